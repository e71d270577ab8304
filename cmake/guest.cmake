# Builds bare-metal RISC-V guests with Debian's riscv64-unknown-elf-gcc, in the same CMake run.
find_program(VMFT_GUEST_CC riscv64-unknown-elf-gcc REQUIRED)

set(VMFT_GUEST_SDK_DIR ${CMAKE_SOURCE_DIR}/guest/sdk)
set(VMFT_GUEST_CFLAGS
    -march=rv64im_zicsr -mabi=lp64 -mcmodel=medany -mno-relax
    -O2 -g -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
    -fno-common -Wall -Wextra -std=c11
    -I${CMAKE_SOURCE_DIR}/guest/include -I${VMFT_GUEST_SDK_DIR})
set(VMFT_GUEST_SDK_SOURCES
    ${VMFT_GUEST_SDK_DIR}/crt0.S ${VMFT_GUEST_SDK_DIR}/trap.S
    ${VMFT_GUEST_SDK_DIR}/runtime.c ${VMFT_GUEST_SDK_DIR}/libc.c)
set(VMFT_GUEST_SDK_DEPENDS
    ${VMFT_GUEST_SDK_SOURCES} ${VMFT_GUEST_SDK_DIR}/vmft.h ${VMFT_GUEST_SDK_DIR}/link.ld
    ${CMAKE_SOURCE_DIR}/guest/include/vmft/guest/abi.h)

# vmft_add_guest(NAME [BARE] SOURCES... [DEPENDS files...]) -> ${VMFT_GUEST_DIR}/NAME.elf and
# target guest_NAME. BARE links only the given sources (with the SDK's linker script): for
# assembly test guests whose every instruction is counted.
function(vmft_add_guest name)
  cmake_parse_arguments(ARG "BARE" "" "SOURCES;DEPENDS" ${ARGN})
  set(sdk_sources ${VMFT_GUEST_SDK_SOURCES})
  if(ARG_BARE)
    set(sdk_sources)
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
            -T ${VMFT_GUEST_SDK_DIR}/link.ld -o ${out} ${sdk_sources} ${sources} -lgcc
    DEPENDS ${sources} ${ARG_DEPENDS} ${VMFT_GUEST_SDK_DEPENDS}
    COMMENT "Building guest ${name}.elf"
    VERBATIM)
  add_custom_target(guest_${name} ALL DEPENDS ${out})
endfunction()
