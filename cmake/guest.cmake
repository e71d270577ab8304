# Builds bare-metal RISC-V guests with Debian's riscv64-unknown-elf-gcc, in the same CMake run.
find_program(VMFT_GUEST_CC riscv64-unknown-elf-gcc REQUIRED)

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

# picolibc, Debian's picolibc-riscv64-unknown-elf: its headers and the rv64im/lp64 libc.a.
set(VMFT_PICOLIBC_DIR /usr/lib/picolibc/riscv64-unknown-elf)
set(VMFT_GUEST_LIBC ${VMFT_PICOLIBC_DIR}/lib/rv64im/lp64/libc.a)
if(NOT EXISTS "${VMFT_GUEST_LIBC}" OR NOT EXISTS "${VMFT_PICOLIBC_DIR}/include/picolibc.h")
  message(FATAL_ERROR "guests need picolibc for rv64im/lp64 (${VMFT_GUEST_LIBC}): "
                      "apt-get install picolibc-riscv64-unknown-elf (scripts/test installs it)")
endif()

set(VMFT_GUEST_SDK_DIR ${CMAKE_SOURCE_DIR}/guest/sdk)
set(VMFT_GUEST_CFLAGS
    -march=rv64im_zicsr -mabi=lp64 -mcmodel=medany -mno-relax
    -O2 -g -fno-common -Wall -Wextra -std=c11
    -isystem ${VMFT_PICOLIBC_DIR}/include
    -I${CMAKE_SOURCE_DIR}/guest/include -I${VMFT_GUEST_SDK_DIR})
set(VMFT_GUEST_SDK_SOURCES
    ${VMFT_GUEST_SDK_DIR}/crt0.S ${VMFT_GUEST_SDK_DIR}/trap.S
    ${VMFT_GUEST_SDK_DIR}/runtime.c ${VMFT_GUEST_SDK_DIR}/picolibc.c)
set(VMFT_GUEST_SDK_DEPENDS
    ${VMFT_GUEST_SDK_SOURCES} ${VMFT_GUEST_SDK_DIR}/vmft.h ${VMFT_GUEST_SDK_DIR}/link.ld
    ${CMAKE_SOURCE_DIR}/guest/include/vmft/guest/abi.h)

# Every guest, so that a target can depend on all of them (the tests run them by file name).
add_custom_target(guests)

# vmft_add_guest(NAME [BARE] SOURCES... [DEPENDS files...]) -> ${VMFT_GUEST_DIR}/NAME.elf and
# target guest_NAME, a dependency of the target guests. BARE links only the given sources (with the SDK's linker script): for
# assembly test guests whose every instruction is counted.
function(vmft_add_guest name)
  cmake_parse_arguments(ARG "BARE" "" "SOURCES;DEPENDS" ${ARGN})
  set(sdk_sources ${VMFT_GUEST_SDK_SOURCES})
  set(libc ${VMFT_GUEST_LIBC})
  if(ARG_BARE)
    set(sdk_sources)
    set(libc)
  endif()
  set(out ${VMFT_GUEST_DIR}/${name}.elf)
  set(sources)
  foreach(src ${ARG_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    list(APPEND sources ${abs})
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMFT_GUEST_DIR}
    COMMAND ${VMFT_GUEST_CC} ${VMFT_GUEST_CFLAGS} -nostdlib -static
            -T ${VMFT_GUEST_SDK_DIR}/link.ld -o ${out} ${sdk_sources} ${sources}
            ${libc} ${VMFT_GUEST_LIBGCC}
    DEPENDS ${sources} ${ARG_DEPENDS} ${VMFT_GUEST_SDK_DEPENDS}
    COMMENT "Building guest ${name}.elf"
    VERBATIM)
  add_custom_target(guest_${name} ALL DEPENDS ${out})
  add_dependencies(guests guest_${name})
endfunction()
