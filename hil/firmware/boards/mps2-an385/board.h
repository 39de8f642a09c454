/* SPDX-License-Identifier: Apache-2.0 */
/* Arm MPS2 FPGA image AN385 (Cortex-M3). SysTick runs from the 25 MHz system clock; under qemu -icount shift=0 one instruction
 * takes 1 ns of virtual time, so one SysTick tick = 40 instructions. */
#ifndef CS_BOARD_H
#define CS_BOARD_H
#define CS_BOARD_CORE_NAME "cortex-m3"
#define CS_BOARD_MACHINE "mps2-an385"
#define CS_BOARD_INSN_PER_TICK_NUM 40u
#define CS_BOARD_INSN_PER_TICK_DEN 1u
#endif
