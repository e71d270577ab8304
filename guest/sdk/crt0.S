/* Entry: a0 = RAM base, a1 = RAM size (see abi.h). Sets up the stack, the trap vector, the
   thread pointer and the SDK's view of RAM, runs the constructors and main, and passes main's
   result to exit(). */
.option norvc
.section .text.start, "ax"
.globl _start
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  /* One thread: its thread-local block is .tdata and .tbss where the image has them (RISC-V
     puts tp at the block's start). errno lives there. */
  la tp, __tls_base
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
  call __libc_init_array /* .preinit_array and .init_array: constructors */
  li a0, 0 /* main(0, NULL) */
  li a1, 0
  call main
  call exit /* atexit handlers and destructors, then _exit (picolibc.c) */
3:
  j 3b
