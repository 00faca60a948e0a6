// sluice: the command-line client of sluiced. See tools/command_line.h for the flags,
// tools/commands.h for the subcommands and tools/failure.h for the exit codes.
#include <iostream>
#include <string>
#include <vector>

#include "tools/command_line.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  sluice::tools::ParseResult parsed = sluice::tools::ParseCommandLine(args);
  if (!parsed.command) {
    std::cout << parsed.output;
    std::cerr << parsed.error;
    return parsed.exit_code;
  }
  const int code = sluice::tools::RunCommand(*parsed.command, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
