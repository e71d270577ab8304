/* Counts timer interrupts taken during a fixed loop. The handler is exactly 6 instructions
   and re-arms the timer (compare = 0, due at once), so a run that takes N interrupts retires
   exactly (instructions with no interrupt) + 6 * N. Exits with N.
   The first entropy read selects what is enabled: bit 0 sets mie.MTIE, bit 1 sets
   mstatus.MIE (the test's fake entropy source chooses). */
.option norvc
.section .text.start, "ax"
.globl _start
_start:
  la t0, handler
  csrw mtvec, t0
  li s1, 0                     /* interrupts taken */
  lui t2, 0x10002              /* VMFT_TIMER_BASE */
  sd zero, 0(t2)               /* compare = 0: the timer is due at once */
  lui t0, 0x10004              /* VMFT_ENTROPY_BASE */
  ld t0, 0(t0)
  andi t1, t0, 1
  beqz t1, 1f
  li t1, 0x80                  /* mie.MTIE */
  csrs mie, t1
1:
  andi t1, t0, 2
  beqz t1, 2f
  csrsi mstatus, 8             /* mstatus.MIE */
2:
  li t0, 20000
3:
  addi t0, t0, -1
  bnez t0, 3b
  csrci mstatus, 8
  mv a0, s1
  li a7, 0
  ecall

.balign 4
handler:
  addi s1, s1, 1
  lui t3, 0x10002
  sd zero, 0(t3)               /* re-arm: clears the pending tick, due again at once */
  csrr t4, mepc                /* exercise mepc: mret must still resume the loop */
  csrw mepc, t4
  mret

