/* SPDX-License-Identifier: Apache-2.0 */
/* ARM semihosting (ARM DUI 0471, "Semihosting operations"): the debugger or QEMU
 * (-semihosting-config enable=on,target=native) services a BKPT 0xAB. */
#ifndef CS_FW_SEMIHOST_H
#define CS_FW_SEMIHOST_H

/* Print a NUL-terminated string on the host's stdout (SYS_WRITE0). */
void semihost_write0(const char* s);

/* End the run with an exit code the host sees (SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit).
 * QEMU exits with `code`; plain SYS_EXIT could only report 0 or 1. */
void semihost_exit(int code) __attribute__((noreturn));

#endif
