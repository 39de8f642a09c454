# SPDX-License-Identifier: Apache-2.0
# CMake toolchain file: GNU Arm Embedded (arm-none-eabi-gcc 12, newlib-nano), bare metal.
#
#   cmake -S <src> -B <build> -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
#         [-DCELLSENSE_MCU_CORE=cortex-m4f|cortex-m7|cortex-m3|cortex-m0plus]
#
# With CELLSENSE_MCU_CORE set, that core's -mcpu/-mfpu flags become the default compile and link
# flags of every target (the usual single-core firmware project), and CMAKE_CROSSCOMPILING_EMULATOR
# runs executables under that core's QEMU machine. Without it, nothing core-specific is set and
# per-target flags come from cmake/cellsense_mcu.cmake (tests/mcu builds all four cores at once).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)  # no startup code / linker script at try-compile time

find_program(CELLSENSE_ARM_GCC arm-none-eabi-gcc)
if(NOT CELLSENSE_ARM_GCC)
  message(FATAL_ERROR "arm-none-eabi-gcc not found: run scripts/install_mcu_toolchain.sh "
                      "(apt packages gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-dev)")
endif()
get_filename_component(_cs_arm_bin "${CELLSENSE_ARM_GCC}" DIRECTORY)
set(CMAKE_C_COMPILER "${_cs_arm_bin}/arm-none-eabi-gcc")
set(CMAKE_CXX_COMPILER "${_cs_arm_bin}/arm-none-eabi-g++")
set(CMAKE_ASM_COMPILER "${_cs_arm_bin}/arm-none-eabi-gcc")
set(CMAKE_AR "${_cs_arm_bin}/arm-none-eabi-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${_cs_arm_bin}/arm-none-eabi-ranlib" CACHE FILEPATH "")
set(CMAKE_OBJCOPY "${_cs_arm_bin}/arm-none-eabi-objcopy" CACHE FILEPATH "")
set(CMAKE_SIZE "${_cs_arm_bin}/arm-none-eabi-size" CACHE FILEPATH "")
set(CMAKE_NM "${_cs_arm_bin}/arm-none-eabi-nm" CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

include("${CMAKE_CURRENT_LIST_DIR}/cellsense_mcu.cmake")

# Try-compile projects re-read this file; pass the core through to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CELLSENSE_MCU_CORE)
if(CELLSENSE_MCU_CORE)
  cellsense_mcu_core_flags(${CELLSENSE_MCU_CORE} _cs_flags)
  list(JOIN _cs_flags " " _cs_flags_str)
  set(CMAKE_C_FLAGS_INIT "${_cs_flags_str}")
  set(CMAKE_CXX_FLAGS_INIT "${_cs_flags_str}")
  set(CMAKE_ASM_FLAGS_INIT "${_cs_flags_str}")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "${_cs_flags_str}")
  cellsense_mcu_emulator(${CELLSENSE_MCU_CORE} _cs_emulator)
  if(_cs_emulator)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${_cs_emulator})
  endif()
endif()
