// main.cpp - the bucketfs program; everything it does lives in cli::run (app.cpp).
#include <string>
#include <vector>

#include "bucketfs/cli/app.hpp"

int main(int argc, char** argv) { return bucketfs::cli::run(std::vector<std::string>(argv, argv + argc)); }
