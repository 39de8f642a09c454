# SPDX-License-Identifier: Apache-2.0
# Per-core facts for the Cortex-M builds of the cellsense core (docs/mcu.md):
# compiler flags, QEMU machine, test board. Include it from a toolchain or a project.
include_guard(GLOBAL)

set(CELLSENSE_MCU_ALL_CORES cortex-m4f cortex-m7 cortex-m3 cortex-m0plus)

# Flags that select the core, its FPU and its ABI (compile AND link: they pick the multilib).
# The four cores above are the ones tests/mcu runs under QEMU; the others are GCC's Cortex-M cores with
# their usual FPU (hard float where the core has one; "-soft" / "-nofp" names force soft float).
function(cellsense_mcu_core_flags core out)
  if(core STREQUAL "cortex-m4f")
    set(f -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
  elseif(core STREQUAL "cortex-m7")
    set(f -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16)
  elseif(core STREQUAL "cortex-m7-sp")
    set(f -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16)
  elseif(core STREQUAL "cortex-m3")
    set(f -mcpu=cortex-m3 -mthumb -mfloat-abi=soft)
  elseif(core STREQUAL "cortex-m0plus")
    set(f -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft)
  elseif(core MATCHES "^cortex-m(0|1|23)$")
    set(f -mcpu=${core} -mthumb -mfloat-abi=soft)
  elseif(core MATCHES "^(cortex-m(4|33|35p|55|85))-(soft|nofp)$")
    set(f -mcpu=${CMAKE_MATCH_1}+nofp -mthumb -mfloat-abi=soft)
    if(CMAKE_MATCH_2 STREQUAL "4")
      set(f -mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
    endif()
  elseif(core MATCHES "^cortex-m(33|35p)f?$")
    string(REGEX REPLACE "f$" "" c "${core}")
    set(f -mcpu=${c} -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16)
  elseif(core MATCHES "^cortex-m(55|85)$")
    set(f -mcpu=${core} -mthumb -mfloat-abi=hard)  # -mcpu implies the FPU / MVE (-mfpu=auto)
  else()
    message(FATAL_ERROR "unknown core '${core}' (known: ${CELLSENSE_MCU_ALL_CORES}, cortex-m0, cortex-m1, "
            "cortex-m23, cortex-m4-soft, cortex-m7-sp, cortex-m33[f], cortex-m35p, cortex-m55, cortex-m85, "
            "<core>-nofp; or pass your own flags: cellsense_add_c_api(<target> FLAGS <flags>...), or TOOLCHAIN "
            "for the flags of your toolchain file)")
  endif()
  set(${out} ${f} PARENT_SCOPE)
endfunction()

# The QEMU machine that runs the core's test images, and the board directory under hil/firmware/boards.
function(cellsense_mcu_core_board core machine_out board_out)
  if(core STREQUAL "cortex-m4f")
    set(m mps2-an386)
  elseif(core STREQUAL "cortex-m7")
    set(m mps2-an500)
  elseif(core STREQUAL "cortex-m3")
    set(m mps2-an385)
  elseif(core STREQUAL "cortex-m0plus")
    set(m microbit)  # QEMU models an nRF51 Cortex-M0, which runs M0+ code
  else()
    message(FATAL_ERROR "unknown core '${core}'")
  endif()
  set(${machine_out} ${m} PARENT_SCOPE)
  set(${board_out} ${m} PARENT_SCOPE)
endfunction()

# The command list that runs an image: qemu-system-arm ... -kernel (the image path is appended).
# -icount shift=0: one guest instruction = 1 ns of virtual time, so timers count instructions.
# Semihosting output goes to a stdio chardev: without one QEMU writes it to stderr.
function(cellsense_mcu_emulator core out)
  find_program(CELLSENSE_QEMU_SYSTEM_ARM qemu-system-arm)
  if(NOT CELLSENSE_QEMU_SYSTEM_ARM)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  cellsense_mcu_core_board(${core} machine board)
  set(${out} ${CELLSENSE_QEMU_SYSTEM_ARM} -M ${machine} -nographic -monitor none -serial null
      -icount shift=0 -chardev stdio,id=semihost -semihosting-config enable=on,target=native,chardev=semihost
      -kernel PARENT_SCOPE)
endfunction()

# Compile flags for code built from the cellsense core: C++17, no exceptions / RTTI, reproducible
# float (-ffp-contract=off: no FMA contraction, bit-identical to the host), sqrt as an instruction
# (-fno-math-errno: no errno path, so no sqrtf call on FPU cores), warnings as errors.
set(CELLSENSE_MCU_CXX_FLAGS
    -std=c++17 -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit
    -ffp-contract=off -fno-math-errno -ffunction-sections -fdata-sections
    -Wall -Wextra -Wpedantic -Werror -Wconversion -Wdouble-promotion -Wfloat-equal -Wshadow
    -Wcast-align -Wundef)
set(CELLSENSE_MCU_C_FLAGS
    -std=c99 -ffp-contract=off -fno-math-errno -ffunction-sections -fdata-sections
    -Wall -Wextra -Wpedantic -Werror -Wconversion -Wdouble-promotion -Wshadow -Wundef)
# Bare-metal link: newlib-nano, no syscalls, our own startup, unused sections dropped.
set(CELLSENSE_MCU_LINK_FLAGS --specs=nano.specs --specs=nosys.specs -nostartfiles -Wl,--gc-sections)

# The C API's sources under cpp/src: the estimator, state of power and saved state (c_api.cpp) and the
# SOH part (c_api_soh.cpp); both include cpp/src/c_api_internal.hpp (installed beside them). A global
# property (this file is include_guard(GLOBAL)ed: a variable would exist only in its first includer's scope).
set_property(GLOBAL PROPERTY CELLSENSE_C_API_FILES c_api.cpp c_api_soh.cpp)

# cellsense_add_c_api(<target> <core> | TOOLCHAIN | FLAGS <flag>... [OPT <-O2>] [DEFINITIONS ...]):
# the C API (cpp/src/c_api.cpp, cpp/src/c_api_soh.cpp) as a static library.
#   <core>     a core name of cellsense_mcu_core_flags() (cortex-m4f, cortex-m33, cortex-m55, ...): its
#              -mcpu/-mfpu/-mfloat-abi flags, -O2 by default, warnings as errors (what tests/mcu measures);
#   TOOLCHAIN  no core flags: those of your toolchain file / CMAKE_CXX_FLAGS (the host, or the Cortex-M
#              your toolchain file names); optimisation from the build type unless OPT is given;
#   FLAGS ...  your own core flags, e.g. FLAGS -mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16.
# Link the firmware with the same core flags, and set LINKER_LANGUAGE C on it (docs/mcu.md).
function(cellsense_add_c_api target)
  cmake_parse_arguments(A "TOOLCHAIN" "OPT" "DEFINITIONS;FLAGS" ${ARGN})
  set(strict "")
  if(A_TOOLCHAIN OR DEFINED A_FLAGS)
    set(cflags ${A_FLAGS})
    if(A_UNPARSED_ARGUMENTS)
      message(FATAL_ERROR "cellsense_add_c_api(${target}): unexpected '${A_UNPARSED_ARGUMENTS}' with TOOLCHAIN / FLAGS")
    endif()
  else()
    list(LENGTH A_UNPARSED_ARGUMENTS n)
    if(NOT n EQUAL 1)
      message(FATAL_ERROR "cellsense_add_c_api(${target} <core> | TOOLCHAIN | FLAGS <flags>...): give one of them")
    endif()
    cellsense_mcu_core_flags(${A_UNPARSED_ARGUMENTS} cflags)
    if(NOT A_OPT)
      set(A_OPT -O2)
    endif()
    set(strict -Werror)
  endif()
  # The directory of the C API's sources: registered by the top-level CMakeLists.txt or the installed
  # package's config file; else this file sits in <checkout>/cmake (include()d straight from a checkout).
  get_property(dir GLOBAL PROPERTY CELLSENSE_C_API_SOURCE_DIR)
  if(NOT dir)
    get_filename_component(dir "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../cpp/src" ABSOLUTE)
  endif()
  get_property(files GLOBAL PROPERTY CELLSENSE_C_API_FILES)
  list(TRANSFORM files PREPEND "${dir}/" OUTPUT_VARIABLE src)
  add_library(${target} STATIC ${src})
  if(TARGET cellsense::core)
    target_link_libraries(${target} PUBLIC cellsense::core)
  else()
    get_filename_component(inc "${dir}/../include" ABSOLUTE)
    target_include_directories(${target} PUBLIC ${inc})
  endif()
  list(REMOVE_ITEM CELLSENSE_MCU_CXX_FLAGS -Werror)
  target_compile_options(${target} PRIVATE ${cflags} ${A_OPT} ${CELLSENSE_MCU_CXX_FLAGS} ${strict}
                         $<$<CXX_COMPILER_ID:GNU>:-fstack-usage>)
  target_compile_definitions(${target} PRIVATE ${A_DEFINITIONS})
  if(NOT WIN32)
    target_link_libraries(${target} PUBLIC m)  # sqrtf on soft-float cores
  endif()
  set_target_properties(${target} PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF)
endfunction()
