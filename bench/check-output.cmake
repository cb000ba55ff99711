# Runs a benchmark and checks that it succeeds and prints exactly LINES
# lines, each matching PATTERN whole. Used by the bench/ ctest tests:
#   cmake -DPROG=bench-sched "-DARGS=--quick" -DLINES=4 -DPATTERN=re -P this
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${PROG} ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE errs)
message("${out}${errs}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} exited with ${rc}")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines n)
if(NOT n EQUAL LINES)
  message(FATAL_ERROR "expected ${LINES} lines, got ${n}")
endif()
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^${PATTERN}$")
    message(FATAL_ERROR "malformed line: ${line}")
  endif()
endforeach()
