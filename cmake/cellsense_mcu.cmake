# SPDX-License-Identifier: Apache-2.0
# Per-core facts for the Cortex-M builds of the cellsense core (shared/notes/embedded.md):
# compiler flags, QEMU machine, test board. Include it from a toolchain or a project.
include_guard(GLOBAL)

set(CELLSENSE_MCU_ALL_CORES cortex-m4f cortex-m7 cortex-m3 cortex-m0plus)

# Flags that select the core, its FPU and its ABI (compile AND link: they pick the multilib).
function(cellsense_mcu_core_flags core out)
  if(core STREQUAL "cortex-m4f")
    set(f -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
  elseif(core STREQUAL "cortex-m7")
    set(f -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16)
  elseif(core STREQUAL "cortex-m3")
    set(f -mcpu=cortex-m3 -mthumb -mfloat-abi=soft)
  elseif(core STREQUAL "cortex-m0plus")
    set(f -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft)
  else()
    message(FATAL_ERROR "unknown core '${core}' (known: ${CELLSENSE_MCU_ALL_CORES})")
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

# cellsense_add_c_api(<target> <core> [OPT <-O2>] [DEFINITIONS ...]): the C API as a static
# library for one core. <source dir> is found relative to this file.
function(cellsense_add_c_api target core)
  cmake_parse_arguments(A "" "OPT" "DEFINITIONS" ${ARGN})
  if(NOT A_OPT)
    set(A_OPT -O2)
  endif()
  get_filename_component(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.." ABSOLUTE)
  cellsense_mcu_core_flags(${core} cflags)
  add_library(${target} STATIC ${root}/cpp/src/c_api.cpp)
  target_include_directories(${target} PUBLIC ${root}/cpp/include)
  target_compile_options(${target} PRIVATE ${cflags} ${A_OPT} ${CELLSENSE_MCU_CXX_FLAGS} -fstack-usage)
  target_compile_definitions(${target} PRIVATE ${A_DEFINITIONS})
  set_target_properties(${target} PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF)
endfunction()
