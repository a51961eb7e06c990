/*
 * disk-io: 4 KiB random reads with O_DIRECT, for bench/disk.ts, as a static i386 program with
 * no libc (built with gcc -m32 -static -nostdlib; Linux i386 system calls through int 0x80), so
 * it runs in the default guest's busybox initramfs under any engine.
 *
 *   disk-io DEVICE COUNT SPAN_MIB SEED
 *
 * reads COUNT 4 KiB blocks at 4 KiB-aligned offsets drawn (xorshift32) from the first SPAN_MIB
 * MiB of DEVICE, one pread64 at a time, and prints
 *
 *   RANDREAD count=N usec=T
 *
 * with T from CLOCK_MONOTONIC around the loop. Exit status 1 on any error.
 */

#define SYS_exit 1
#define SYS_write 4
#define SYS_open 5
#define SYS_pread64 180
#define SYS_clock_gettime 265
#define O_RDONLY 0
#define O_DIRECT 040000
#define CLOCK_MONOTONIC 1
#define BLOCK 4096

struct ts32 { long sec; long nsec; };

static char buf[BLOCK] __attribute__((aligned(BLOCK)));

static long sys5(long n, long a, long b, long c, long d, long e) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
  return r;
}

static unsigned long slen(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
static void out(const char *s) { sys5(SYS_write, 1, (long)s, (long)slen(s), 0, 0); }
static void die(const char *s) { out("disk-io: "); out(s); out("\n"); sys5(SYS_exit, 1, 0, 0, 0, 0); for (;;) {} }

static unsigned long long num(const char *s) {
  unsigned long long v = 0;
  if (*s == 0) die("bad number");
  for (; *s; s++) { if (*s < '0' || *s > '9') die("bad number"); v = v * 10 + (unsigned)(*s - '0'); }
  return v;
}

/* 32-bit only: 64-bit division would need libgcc. */
static void outnum(unsigned long v) {
  char t[24];
  int i = 23;
  t[i] = 0;
  do { t[--i] = (char)('0' + (int)(v % 10)); v /= 10; } while (v != 0 && i > 0);
  out(t + i);
}

static unsigned long long usec_now(void) {
  struct ts32 ts;
  if (sys5(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0) != 0) die("clock_gettime failed");
  return (unsigned long long)ts.sec * 1000000ull + (unsigned long)ts.nsec / 1000u;
}

static int run(int argc, char **argv) {
  if (argc != 5) die("usage: disk-io DEVICE COUNT SPAN_MIB SEED");
  unsigned long count = (unsigned long)num(argv[2]);
  unsigned long blocks = (unsigned long)num(argv[3]) * (1024 * 1024 / BLOCK);
  unsigned int x = (unsigned int)num(argv[4]) | 1u;
  if (blocks == 0 || blocks > 0x1000000) die("span must be 1 MiB to 64 GiB");
  if (count == 0 || count > 1000000) die("count must be 1 to 1000000");
  long fd = sys5(SYS_open, (long)argv[1], O_RDONLY | O_DIRECT, 0, 0, 0);
  if (fd < 0) die("cannot open the device with O_DIRECT");
  unsigned long long t0 = usec_now();
  for (unsigned long i = 0; i < count; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    unsigned long long off = (unsigned long long)(x % blocks) * BLOCK;
    long r = sys5(SYS_pread64, fd, (long)buf, BLOCK, (long)(off & 0xffffffffu), (long)(off >> 32));
    if (r != BLOCK) die("short or failed read");
  }
  unsigned long long t1 = usec_now();
  out("RANDREAD count="); outnum(count);
  out(" usec="); outnum((unsigned long)(t1 - t0));
  out("\n");
  return 0;
}

/* The kernel enters here with argc at the stack pointer, then argv. */
__attribute__((used)) static void start_c(long *sp) {
  sys5(SYS_exit, run((int)sp[0], (char **)(sp + 1)), 0, 0, 0, 0);
  for (;;) {}
}

__asm__(".globl _start\n_start:\n  xorl %ebp, %ebp\n  movl %esp, %eax\n  andl $-16, %esp\n  subl $12, %esp\n  pushl %eax\n  call start_c\n  hlt\n");
