/* Entry: a0 = RAM base, a1 = RAM size (see abi.h). Sets up the stack, the trap vector and
   the SDK's view of RAM, runs main, and exits with its return value. */
.option norvc
.section .text.start, "ax"
.globl _start
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  la t0, vmft_trap_entry
  csrw mtvec, t0
  /* RAM arrives zeroed, but clear .bss anyway so the image does not depend on it. */
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  add t0, a0, a1 /* after clearing .bss, where vmft_ram_end lives */
  la t1, vmft_ram_end
  sd t0, 0(t1)
  call main
  li a7, 0 /* VMFT_HC_EXIT with main's result in a0 */
  ecall
3:
  j 3b
