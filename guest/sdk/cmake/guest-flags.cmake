# What every vmft guest is compiled and linked with, shared by vmft's own build (cmake/guest.cmake)
# and the installed SDK (toolchain.cmake, VmftGuest.cmake). Input: VMFT_GUEST_CC, Debian's
# riscv64-unknown-elf-gcc. Output:
#   VMFT_GUEST_ARCH_FLAGS  the ISA, ABI and code model (RV64IM + Zicsr, soft float, lp64)
#   VMFT_GUEST_LIBGCC      the rv64im/lp64 libgcc
#   VMFT_PICOLIBC_INCLUDE  picolibc's headers (Debian's picolibc-riscv64-unknown-elf)
#   VMFT_GUEST_LIBC        its rv64im/lp64 libc.a (math.h's functions are in it too)
include_guard(GLOBAL)

set(VMFT_GUEST_ARCH_FLAGS -march=rv64im_zicsr -mabi=lp64 -mcmodel=medany -mno-relax)

# gcc picks libgcc's multilib by -march and -mabi, and knows no multilib for rv64im_zicsr: with
# that -march a plain -lgcc links the default (rv64gc, lp64d) one, whose soft-float helpers
# will not link with lp64 code. Zicsr adds no instructions libgcc uses, so rv64im's is the one.
execute_process(
  COMMAND ${VMFT_GUEST_CC} -march=rv64im -mabi=lp64 -print-libgcc-file-name
  OUTPUT_VARIABLE VMFT_GUEST_LIBGCC OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT VMFT_GUEST_LIBGCC MATCHES "rv64im/lp64/libgcc.a$" OR NOT EXISTS "${VMFT_GUEST_LIBGCC}")
  message(FATAL_ERROR "${VMFT_GUEST_CC} has no rv64im/lp64 libgcc (it named "
                      "'${VMFT_GUEST_LIBGCC}'); install Debian's gcc-riscv64-unknown-elf")
endif()

set(_vmft_picolibc /usr/lib/picolibc/riscv64-unknown-elf)
set(VMFT_PICOLIBC_INCLUDE ${_vmft_picolibc}/include)
set(VMFT_GUEST_LIBC ${_vmft_picolibc}/lib/rv64im/lp64/libc.a)
if(NOT EXISTS "${VMFT_GUEST_LIBC}" OR NOT EXISTS "${VMFT_PICOLIBC_INCLUDE}/picolibc.h")
  message(FATAL_ERROR "guests need picolibc for rv64im/lp64 (${VMFT_GUEST_LIBC}): "
                      "apt-get install picolibc-riscv64-unknown-elf")
endif()
