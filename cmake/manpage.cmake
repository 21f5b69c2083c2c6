# manpage.cmake — writes the manual page hcg.1 from the command's own help texts (cmake -P):
# `hcg --help` gives the synopsis and the list of commands, `hcg COMMAND --help` each command's
# section, so the manual never disagrees with --help. Inputs: HCG (the built command), OUT (the
# page to write), VERSION.

# Text as roff: backslashes doubled, a line starting with '.' or '\'' protected.
function(hcg_roff text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${HCG} --help OUTPUT_VARIABLE overview RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${HCG} --help failed (${rc})")
endif()
# The commands: the lines "  NAME  summary" between "commands:" and the next empty line.
string(REGEX MATCH "commands:\n(.*)\n\n" block "${overview}")
string(REGEX MATCHALL "\n  [a-z]+ " names "\n${CMAKE_MATCH_1}")
hcg_roff("${overview}" overview_roff)
set(page ".TH HCG 1 \"\" \"hcg ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\nhcg \\- run computation graphs across the CPU and OpenCL devices\n")
string(APPEND page ".SH SYNOPSIS\n.nf\n${overview_roff}\n.fi\n.SH COMMANDS\n")
foreach(n IN LISTS names)
  string(STRIP "${n}" cmd)
  execute_process(COMMAND ${HCG} ${cmd} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${HCG} ${cmd} --help failed (${rc})")
  endif()
  hcg_roff("${text}" text_roff)
  string(APPEND page ".SS ${cmd}\n.nf\n${text_roff}\n.fi\n")
endforeach()
string(APPEND page ".SH SEE ALSO\nThe library's API: <hcg/hcg.h>; the graph format, ops and designs: docs/ in the sources.\n")
file(WRITE "${OUT}.tmp" "${page}")
file(RENAME "${OUT}.tmp" "${OUT}")
