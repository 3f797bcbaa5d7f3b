/* Latency of dependent loads over a buffer of N MiB (a random cyclic permutation, so every
 * load waits for the previous one): how long a lookup waits for each cache line it needs.
 *   gcc -O2 -o memlat memlat.c && for m in 1 4 16 64 256; do taskset -c 0 ./memlat $m; done */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    size_t n = (argc > 1 ? (size_t)atol(argv[1]) : 32) * 1024 * 1024 / sizeof(size_t);
    size_t *next = malloc(n * sizeof(size_t));
    if (!next) return 1;
    for (size_t i = 0; i < n; i++) next[i] = i;
    srand(1);
    for (size_t i = n - 1; i > 0; i--) { /* Sattolo: one cycle through every slot */
        size_t j = ((size_t)rand() * RAND_MAX + (size_t)rand()) % i;
        size_t t = next[i]; next[i] = next[j]; next[j] = t;
    }
    struct timespec s, e;
    size_t p = 0;
    long steps = 20000000;
    clock_gettime(CLOCK_MONOTONIC, &s);
    for (long k = 0; k < steps; k++) p = next[p];
    clock_gettime(CLOCK_MONOTONIC, &e);
    printf("%zu MiB: %.1f ns per dependent load (%zu)\n", n * sizeof(size_t) >> 20,
           ((e.tv_sec - s.tv_sec) * 1e9 + (e.tv_nsec - s.tv_nsec)) / steps, p);
    return 0;
}
