/* Exactly 2004 instructions: the instruction-count test knows this by hand.
   Exits with the value rdinstret read after the loop: 2001 (instructions retired before it). */
.option norvc
.section .text.start, "ax"
.globl _start
_start:
  li t0, 1000          /* 1 */
1:
  addi t0, t0, -1      /* 1000 x 2 */
  bnez t0, 1b
  rdinstret a0         /* 2002nd instruction: 2001 retired before it */
  li a7, 0             /* VMFT_HC_EXIT */
  ecall                /* 2004th */
