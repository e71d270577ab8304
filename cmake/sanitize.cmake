# -DVMFT_SANITIZE=address,undefined (scripts/test --sanitize, in build-asan/) or =thread
# (scripts/test --tsan, in build-tsan/) builds every host library, binary and test with those
# sanitizers. Only host C++ and C get the flags: the RISC-V guests are built by their own
# compiler in cmake/guest.cmake, which never sees add_compile_options.
set(VMFT_SANITIZE "" CACHE STRING "Sanitizers for host code: address,undefined or thread")
if(VMFT_SANITIZE)
  if(VMFT_FUZZ)
    message(FATAL_ERROR "VMFT_FUZZ already builds with ASan+UBSan; leave VMFT_SANITIZE empty")
  endif()
  set(VMFT_SANITIZE_FLAGS -fsanitize=${VMFT_SANITIZE})
  if(VMFT_SANITIZE MATCHES "undefined")
    # A UBSan finding stops the process, so the test that hit it fails instead of only logging.
    list(APPEND VMFT_SANITIZE_FLAGS -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${VMFT_SANITIZE_FLAGS} -fno-omit-frame-pointer)
  # -O1, not -O2: both sanitizers' documentation asks for -O1 or more, and the instrumented
  # files compile in a third less CPU at -O1 (ChannelTest.cc under ASan+UBSan: 39.8 s at -O2,
  # 25.7 s at -O1; host/Status.cc: 52.7 s, 34.4 s; under TSan 17.2 s, 12.2 s). The three
  # builds are most of CI's time; the guest's translated code, where a run spends its time,
  # is Unicorn's and never instrumented.
  foreach(lang C CXX)
    string(REGEX REPLACE "(^| )-O[23s]( |$)" "\\1-O1\\2" CMAKE_${lang}_FLAGS_RELWITHDEBINFO
           "${CMAKE_${lang}_FLAGS_RELWITHDEBINFO}")
    string(REGEX REPLACE "(^| )-O[23s]( |$)" "\\1-O1\\2" CMAKE_${lang}_FLAGS_RELEASE
           "${CMAKE_${lang}_FLAGS_RELEASE}")
  endforeach()
  add_link_options(${VMFT_SANITIZE_FLAGS})
endif()

# How much longer the integration tests wait on this build (for output, exits, replies and
# acknowledgements) and how much longer ctest lets each run: a sanitized vmft emulates several
# times slower (ASan about 5x on the crunch guest; TSan more).
if(VMFT_SANITIZE MATCHES "thread")
  set(VMFT_TEST_TIME_SCALE_DEFAULT 10)
elseif(VMFT_SANITIZE)
  set(VMFT_TEST_TIME_SCALE_DEFAULT 6)
else()
  set(VMFT_TEST_TIME_SCALE_DEFAULT 1)
endif()
set(VMFT_TEST_TIME_SCALE ${VMFT_TEST_TIME_SCALE_DEFAULT} CACHE STRING
    "Factor on the integration tests' timeouts")
