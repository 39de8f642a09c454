/* SPDX-License-Identifier: Apache-2.0 */
/* BBC micro:bit v1 (nRF51822, Cortex-M0; the image is built for Cortex-M0+: the same ARMv6-M instruction set).
 * Instruction counting: real nRF51 silicon has no SysTick, but QEMU models one clocked from the
 * 16 MHz system clock; under -icount shift=0 (1 ns per instruction) one tick = 62.5 instructions.
 * Checked: a 300,000-instruction loop reads 4,800 ticks, every run. These are instructions
 * (TCG counts each guest instruction once), not M0 cycles (loads, branches and multi-cycle ops
 * take 2+ cycles on silicon). */
#ifndef CS_BOARD_H
#define CS_BOARD_H
#define CS_BOARD_CORE_NAME "cortex-m0plus"
#define CS_BOARD_MACHINE "microbit"
#define CS_BOARD_INSN_PER_TICK_NUM 125u  /* 62.5 instructions per tick */
#define CS_BOARD_INSN_PER_TICK_DEN 2u
#endif
