// Placeholder until the command-line tool is written.
#include <cstdio>
int main() { std::puts("quench: not written yet"); return 2; }
