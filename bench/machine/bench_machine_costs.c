/* What a syscall and a cross-core wake-up cost on this machine, for bench/results' machine
 * facts. Both dominate a loopback benchmark's server CPU per message, and both vary tenfold
 * between bare metal and some virtual machines, so CPU per op is only comparable between runs
 * on machines where these agree.
 *
 *   bench_machine_costs SERVER_CPU CLIENT_CPU
 * prints one JSON line:
 *   syscall_us       getpid() through syscall(2), averaged over 200,000 calls
 *   wakeup_msg_us    CPU per message of a process pinned to SERVER_CPU that sleeps in
 *                    epoll_wait, is woken by a one-byte write from CLIENT_CPU, reads it and
 *                    writes it back (20,000 round trips over a socket pair): three syscalls
 *                    plus one sleep and wake-up per message, as a server that keeps up pays
 * Bounded: a fixed count of each, and alarm(30) ends a stuck run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof(s), &s);
}

/* A CPU number, or -1 when s is not one. */
static int cpu_arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || end == s || *end || v < 0 || v >= CPU_SETSIZE ? -1 : (int)v;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_machine_costs SERVER_CPU CLIENT_CPU\n");
		return 2;
	}
	int scpu = cpu_arg(argv[1]), ccpu = cpu_arg(argv[2]);
	if (scpu < 0 || ccpu < 0) {
		fprintf(stderr, "bench_machine_costs: CPU numbers must be 0..%d, got %s %s\n", CPU_SETSIZE - 1,
			argv[1], argv[2]);
		return 2;
	}
	alarm(30);
	if (pin(scpu) != 0) {
		perror("sched_setaffinity");
		return 1;
	}
	enum { NSYS = 200000, NMSG = 20000 };
	double t0 = mono_s();
	for (int i = 0; i < NSYS; i++)
		syscall(SYS_getpid);
	double sys_us = (mono_s() - t0) / NSYS * 1e6;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("socketpair");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	char b = 0;
	if (child == 0) {
		pin(ccpu);
		close(sv[0]);
		for (int i = 0; i < NMSG; i++)
			if (write(sv[1], &b, 1) != 1 || read(sv[1], &b, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, got[4];
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
	double c0 = cpu_s();
	int ok = 1;
	for (int i = 0; i < NMSG && ok; i++)
		ok = epoll_wait(ep, got, 4, -1) == 1 && read(sv[0], &b, 1) == 1 && write(sv[0], &b, 1) == 1;
	double msg_us = (cpu_s() - c0) / NMSG * 1e6;
	close(sv[0]); /* a child still waiting to read sees EOF and ends */
	int st = 0;
	waitpid(child, &st, 0);
	if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_machine_costs: ping-pong failed\n");
		return 1;
	}
	printf("{\"syscall_us\":%.3f,\"wakeup_msg_us\":%.2f}\n", sys_us, msg_us);
	return 0;
}
