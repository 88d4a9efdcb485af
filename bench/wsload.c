// Lean Socket.IO load worker for bench/socketio and bench/realtime (BENCH_CLIENT=c): holds WebSocket subscribers in
// one epoll loop, so that the measuring client takes as little as possible of the CPU it shares with the server
// under test (the same client for every server measured). Speaks Engine.IO v4 / Socket.IO v5 by hand: open ->
// "40<auth>" -> CONNECT reply; answers pings ("2" -> "3").
//   - "42[\"tick\",{\"t\":<unix ms>,...}]" events (bench/socketio): latency against CLOCK_REALTIME.
//   - "42[\"<table>\",{...\"<pk>\":\"<id>\"...}]" events (bench/realtime): (socket, id, CLOCK_MONOTONIC ms) kept
//     for the controller, which computes latencies, duplicates and missing deliveries exactly as for Node workers.
// Commands on stdin, one per line; answers on stdout:
//   open <total> [auth-json]   -> opened <total> <failed>       (opens sockets until <total> are connected)
//   expect <n>                 -> ready; later: done <ms> <ms> ... (after n tick events)
//   reset                      -> reset <cpu µs>                 (forgets recorded events)
//   progress                   -> progress <events>
//   dump                       -> e <socket> <id> <ms> lines, then: end <sockets> <malformed> <closed> <cpu µs>
//   close                      -> closed
//   exit
// Usage: wsload <host> <port> <path> [table pk]     e.g. wsload 127.0.0.1 3000 /socket.io/ Customer custId
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 8192
#define LANES 32

enum { CONNECTING, HTTP, OPENING, JOINING, OPEN, DEAD };

typedef struct {
  int fd, state, len, index, bad, closed;
  unsigned char in[BUF];
} conn_t;

typedef struct {
  int sock;
  char id[20];
  double t;
} event_t;

static conn_t **conns;
static int nconns, capconns, inflight, target, failed, reporting;
static const char *host, *path;
static char auth[512] = "", tablePrefix[128] = "", pkKey[64] = "";
static int port, ep;
static long expect = -1, ticks;
static long *lat, latcap;
static event_t *events;
static long nevents, capevents;

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
}

// A masked client frame (clients must mask, RFC 6455 §5.3; an all-zero key is valid and keeps the text as is).
static void send_text(conn_t *c, const char *s) {
  size_t n = strlen(s);
  unsigned char f[8 + 600];
  if (n > 600) return;
  size_t h = 2;
  f[0] = 0x81;
  if (n < 126) f[1] = 0x80 | (unsigned char)n;
  else { f[1] = 0x80 | 126; f[2] = n >> 8; f[3] = n & 0xff; h = 4; }
  memset(f + h, 0, 4);
  memcpy(f + h + 4, s, n);
  if (write(c->fd, f, h + 4 + n) < 0) c->state = DEAD;
}

static int connected(void) {
  int n = 0;
  for (int i = 0; i < nconns; i++) n += conns[i]->state == OPEN;
  return n;
}

static void close_conn(conn_t *c) {
  if (c->fd >= 0) { close(c->fd); c->fd = -1; }
  if (c->state == OPEN) c->closed = 1;
  else if (c->state != DEAD) { inflight--; failed++; }
  c->state = DEAD;
}

static void start_one(void) {
  conn_t *c = calloc(1, sizeof(conn_t));
  if (nconns == capconns) { capconns = capconns ? capconns * 2 : 1024; conns = realloc(conns, capconns * sizeof(*conns)); }
  c->index = nconns;
  conns[nconns++] = c;
  inflight++;
  c->state = CONNECTING;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { close_conn(c); return; }
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

// Keeps LANES handshakes in flight until <target> sockets are connected (or too many failed), then answers.
static void fill_lanes(void) {
  if (!reporting) return;
  int open = connected();
  while (open + inflight < target && inflight < LANES && failed < 100) start_one();
  if (inflight == 0) {
    printf("opened %d %d\n", connected(), failed);
    fflush(stdout);
    reporting = 0;
  }
}

static void on_tick(const unsigned char *p, long n) {
  const unsigned char *t = memmem(p, n, "\"t\":", 4);
  if (!t) return;
  if (ticks == latcap) { latcap = latcap ? latcap * 2 : 4096; lat = realloc(lat, latcap * sizeof(long)); }
  lat[ticks++] = unix_ms() - strtol((const char *)t + 4, NULL, 10);
  if (expect >= 0 && ticks == expect) {
    fputs("done", stdout);
    for (long i = 0; i < ticks; i++) printf(" %ld", lat[i]);
    fputc('\n', stdout);
    fflush(stdout);
    expect = -1;
  }
}

static void on_row(conn_t *c, const unsigned char *p, long n) {
  size_t prefix = strlen(tablePrefix), key = strlen(pkKey);
  const unsigned char *at = memmem(p, n, pkKey, key);
  if ((size_t)n < prefix || memcmp(p, tablePrefix, prefix) != 0 || !at) { c->bad++; return; }
  const unsigned char *id = at + key, *end = memchr(id, '"', p + n - id);
  if (!end || end - id >= 20) { c->bad++; return; }
  if (nevents == capevents) { capevents = capevents ? capevents * 2 : 65536; events = realloc(events, capevents * sizeof(event_t)); }
  event_t *e = &events[nevents++];
  e->sock = c->index;
  memcpy(e->id, id, end - id);
  e->id[end - id] = 0;
  e->t = mono_ms();
}

static void on_message(conn_t *c, const unsigned char *p, long n) {
  if (c->state == OPENING && n > 0 && p[0] == '0') {
    char join[600];
    snprintf(join, sizeof join, "40%s", auth);
    c->state = JOINING;
    send_text(c, join);
    return;
  }
  if (c->state == JOINING && n >= 2 && p[0] == '4') {
    if (p[1] == '0') c->state = OPEN, inflight--;
    else close_conn(c); // 44: refused
    return;
  }
  if (n == 1 && p[0] == '2') { send_text(c, "3"); return; }
  if (c->state != OPEN || n < 3 || p[0] != '4' || p[1] != '2') return;
  if (n > 9 && memcmp(p, "42[\"tick\"", 9) == 0) on_tick(p, n);
  else if (tablePrefix[0]) on_row(c, p, n);
}

static void on_readable(conn_t *c) {
  for (;;) {
    ssize_t r = read(c->fd, c->in + c->len, BUF - c->len);
    if (r == 0 || (r < 0 && errno != EAGAIN)) { close_conn(c); return; }
    if (r < 0) return;
    c->len += r;
    int at = 0;
    if (c->state == HTTP) {
      unsigned char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
      if (!end) { if (c->len == BUF) { close_conn(c); return; } continue; }
      if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) { close_conn(c); return; }
      at = end + 4 - c->in;
      c->state = OPENING;
    }
    // Server frames are unmasked; data frames are small text frames here.
    while (c->len - at >= 2) {
      unsigned char *f = c->in + at;
      long n = f[1] & 0x7f, h = 2;
      if (n == 126) { if (c->len - at < 4) break; n = (f[2] << 8) | f[3]; h = 4; }
      else if (n == 127) { close_conn(c); return; }
      if (c->len - at < h + n) break;
      int op = f[0] & 0x0f;
      if (op == 1) on_message(c, f + h, n);
      else if (op == 8) { close_conn(c); return; }
      if (c->state == DEAD) return;
      at += h + n;
    }
    memmove(c->in, c->in + at, c->len - at);
    c->len -= at;
    if (c->len == BUF) { close_conn(c); return; }
  }
}

static void drop_all(void) {
  for (int i = 0; i < nconns; i++) { if (conns[i]->fd >= 0) close(conns[i]->fd); free(conns[i]); }
  nconns = inflight = failed = 0;
  nevents = 0;
}

// Returns 1 when the sockets were dropped: the caller must not touch the events it still holds.
static int on_stdin(void) {
  static char line[1024];
  static int len;
  ssize_t r = read(0, line + len, sizeof line - 1 - len);
  if (r <= 0) exit(0);
  len += r;
  char *nl;
  int dropped = 0;
  while ((nl = memchr(line, '\n', len))) {
    *nl = 0;
    if (strncmp(line, "open ", 5) == 0) {
      char *space = strchr(line + 5, ' ');
      target = atoi(line + 5);
      if (space) snprintf(auth, sizeof auth, "%s", space + 1);
      failed = 0;
      reporting = 1;
      fill_lanes();
    } else if (strncmp(line, "expect ", 7) == 0) {
      expect = atol(line + 7);
      ticks = 0;
      puts("ready");
    } else if (strcmp(line, "reset") == 0) {
      nevents = 0;
      for (int i = 0; i < nconns; i++) conns[i]->bad = 0;
      printf("reset %ld\n", cpu_us());
    } else if (strcmp(line, "progress") == 0) {
      printf("progress %ld\n", nevents);
    } else if (strcmp(line, "dump") == 0) {
      int bad = 0, closed = 0;
      long cpu = cpu_us(); // before the dump, which is not the subscribers' work
      for (long i = 0; i < nevents; i++) printf("e %d %s %.4f\n", events[i].sock, events[i].id, events[i].t);
      for (int i = 0; i < nconns; i++) { bad += conns[i]->bad; closed += conns[i]->closed; }
      printf("end %d %d %d %ld\n", connected() + closed, bad, closed, cpu);
    } else if (strcmp(line, "close") == 0) {
      drop_all();
      dropped = 1;
      puts("closed");
    } else if (strcmp(line, "exit") == 0) {
      exit(0);
    }
    fflush(stdout);
    len -= nl + 1 - line;
    memmove(line, nl + 1, len);
  }
  return dropped;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: wsload host port path [table pk]\n"); return 2; }
  host = argv[1]; port = atoi(argv[2]); path = argv[3];
  if (argc >= 6) {
    snprintf(tablePrefix, sizeof tablePrefix, "42[\"%s\"", argv[4]);
    snprintf(pkKey, sizeof pkKey, "\"%s\":\"", argv[5]);
  }
  ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  struct epoll_event ready[256];
  for (;;) {
    int n = epoll_wait(ep, ready, 256, -1);
    for (int i = 0; i < n; i++) {
      conn_t *c = ready[i].data.ptr;
      if (!c) { if (on_stdin()) break; continue; }
      if (c->state == DEAD) continue;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        char req[512];
        int m = snprintf(req, sizeof req,
                         "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, port);
        if (err || write(c->fd, req, m) != m) close_conn(c);
        else {
          c->state = HTTP;
          struct epoll_event in = { .events = EPOLLIN, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &in);
        }
      } else if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(c);
      }
      fill_lanes();
    }
  }
}
