/*
 * dns_link.c - compiles scanner/dns.c into mailtls-dnsbench.
 *
 * Tools link targets/ and output/ only (CMakeLists.txt), not the scanner
 * library; dns.c depends on nothing of the engine, so the benchmark measures
 * the very code the scanner runs instead of a copy of it.
 */
#include "../../scanner/dns.c"
