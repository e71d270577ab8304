/* A timer interrupt that waits while the guest masks it is taken right after the instruction
   that unmasks it, however long it waited. The timer is due at once and mie.MTIE is set, but
   mstatus.MIE stays clear through a loop of 1000 rounds; then `csrsi mstatus` unmasks it ahead
   of a second loop of 1000 rounds. The handler exits with the rounds the second loop had left:
   1000 when the interrupt came before its first instruction. */
.option norvc
.section .text.start, "ax"
.globl _start
_start:
  la t0, handler
  csrw mtvec, t0
  lui t2, 0x10002              /* VMFT_TIMER_BASE */
  sd zero, 0(t2)               /* compare = 0: the timer is due at once */
  li t1, 0x80                  /* mie.MTIE */
  csrs mie, t1
  li t0, 1000
1:
  addi t0, t0, -1              /* the interrupt is pending, and masked */
  bnez t0, 1b
  li t0, 1000
  csrsi mstatus, 8             /* mstatus.MIE */
2:
  addi t0, t0, -1
  bnez t0, 2b
  li a0, 2000                  /* no interrupt at all */
  li a7, 0
  ecall

.balign 4
handler:
  mv a0, t0
  li a7, 0                     /* VMFT_HC_EXIT */
  ecall
