// Lean load worker for bench/socketio (BENCH_CLIENT=c): the same job as a Node worker of load.mjs, in C with
// epoll, so that the measuring client takes as little of the shared CPU as possible (the same client for both
// servers). Speaks Engine.IO v4 / Socket.IO v5 over WebSocket by hand: open -> "40" -> CONNECT reply; answers
// pings; counts "42[\"tick\",{\"t\":<unix ms>,...}]" events and their latency against CLOCK_REALTIME.
// Protocol with load.mjs: JSON lines on stdin {"open":N} {"expect":N} {"closeAll":true} {"exit":true};
// answers on stdout {"opened":N} {"ready":true} {"done":true,"latencies":[...]} {"closed":true}.
// Usage: wsclient <host> <port> <path>      e.g. wsclient 127.0.0.1 3000 /socket.io/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 4096
#define LANES 50

enum { CONNECTING, HTTP, OPENING, JOINING, OPEN, DEAD };

typedef struct {
  int fd, state, len;
  unsigned char in[BUF];
} conn_t;

static conn_t **conns;
static int nconns, capconns, inflight, toopen, opened_total;
static const char *host, *path;
static int port, ep;
static long expect = -1, received;
static long *lat;
static long latcap;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void out(const char *s) { fputs(s, stdout); fputc('\n', stdout); fflush(stdout); }

// A masked client frame (RFC 6455: clients must mask; a zero key keeps the payload readable and is valid).
static void send_text(conn_t *c, const char *s) {
  size_t n = strlen(s);
  unsigned char f[256];
  f[0] = 0x81; f[1] = 0x80 | (unsigned char)n; memset(f + 2, 0, 4); memcpy(f + 6, s, n);
  if (write(c->fd, f, 6 + n) < 0) c->state = DEAD;
}

static void close_conn(conn_t *c) {
  if (c->fd >= 0) { close(c->fd); c->fd = -1; }
  if (c->state != OPEN && c->state != DEAD) inflight--;
  c->state = DEAD;
}

static void start_one(void) {
  conn_t *c = calloc(1, sizeof(conn_t));
  if (nconns == capconns) { capconns = capconns ? capconns * 2 : 1024; conns = realloc(conns, capconns * sizeof(*conns)); }
  conns[nconns++] = c;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, host, &a.sin_addr);
  c->state = CONNECTING;
  inflight++;
  toopen--;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { close_conn(c); return; }
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void fill_lanes(void) {
  while (toopen > 0 && inflight < LANES) start_one();
  if (toopen == 0 && inflight == 0 && opened_total >= 0) {
    char line[64];
    int open = 0;
    for (int i = 0; i < nconns; i++) open += conns[i]->state == OPEN;
    snprintf(line, sizeof line, "{\"opened\":%d}", open);
    out(line);
    opened_total = -1; // reported
  }
}

static void on_message(conn_t *c, const unsigned char *p, long n) {
  if (c->state == OPENING && n > 0 && p[0] == '0') { c->state = JOINING; send_text(c, "40"); return; }
  if (c->state == JOINING && n >= 2 && p[0] == '4' && p[1] == '0') { c->state = OPEN; inflight--; return; }
  if (n == 1 && p[0] == '2') { send_text(c, "3"); return; }
  if (n > 10 && memcmp(p, "42[\"tick\"", 9) == 0) {
    const unsigned char *t = memmem(p, n, "\"t\":", 4);
    if (!t) return;
    long v = strtol((const char *)t + 4, NULL, 10);
    if (received == latcap) { latcap = latcap ? latcap * 2 : 4096; lat = realloc(lat, latcap * sizeof(long)); }
    lat[received++] = now_ms() - v;
    if (expect >= 0 && received == expect) {
      size_t cap = 64 + received * 8, len = 0;
      char *s = malloc(cap);
      len += sprintf(s, "{\"done\":true,\"latencies\":[");
      for (long i = 0; i < received; i++) len += sprintf(s + len, i ? ",%ld" : "%ld", lat[i]);
      sprintf(s + len, "]}");
      out(s);
      free(s);
      expect = -1;
    }
  }
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
      if (!end) continue;
      if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) { close_conn(c); return; }
      at = end + 4 - c->in;
      c->state = OPENING;
    }
    // Server frames are unmasked; only small text frames are expected here.
    while (c->len - at >= 2) {
      unsigned char *f = c->in + at;
      long n = f[1] & 0x7f, h = 2;
      if (n == 126) { if (c->len - at < 4) break; n = (f[2] << 8) | f[3]; h = 4; }
      else if (n == 127) { close_conn(c); return; }
      if (c->len - at < h + n) break;
      int op = f[0] & 0x0f;
      if (op == 1) on_message(c, f + h, n);
      else if (op == 8) { close_conn(c); return; }
      at += h + n;
    }
    memmove(c->in, c->in + at, c->len - at);
    c->len -= at;
    if (c->len == BUF) { close_conn(c); return; }
  }
}

// Returns 1 when the connections were dropped (the caller must not touch the events it still holds).
static int on_stdin(void) {
  static char line[256];
  static int len;
  ssize_t r = read(0, line + len, sizeof line - 1 - len);
  if (r <= 0) exit(0);
  len += r;
  char *nl;
  while ((nl = memchr(line, '\n', len))) {
    *nl = 0;
    char *v;
    int dropped = 0;
    if ((v = strstr(line, "\"open\":"))) { toopen = atoi(v + 7); opened_total = 0; fill_lanes(); }
    else if ((v = strstr(line, "\"expect\":"))) { expect = atol(v + 9); received = 0; out("{\"ready\":true}"); }
    else if (strstr(line, "\"closeAll\"")) {
      for (int i = 0; i < nconns; i++) { if (conns[i]->fd >= 0) close(conns[i]->fd); free(conns[i]); }
      nconns = 0;
      dropped = 1;
      out("{\"closed\":true}");
    } else if (strstr(line, "\"exit\"")) exit(0);
    len -= nl + 1 - line;
    memmove(line, nl + 1, len);
    if (dropped) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: wsclient host port path\n"); return 2; }
  host = argv[1]; port = atoi(argv[2]); path = argv[3];
  ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c) { if (on_stdin()) break; continue; }
      if (c->state == DEAD) continue;
      if (c->state == CONNECTING && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { close_conn(c); fill_lanes(); continue; }
        char req[512];
        int m = snprintf(req, sizeof req, "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, port);
        if (write(c->fd, req, m) != m) { close_conn(c); fill_lanes(); continue; }
        c->state = HTTP;
        struct epoll_event in = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &in);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
      if (inflight < LANES && toopen > 0) fill_lanes();
      else if (toopen == 0 && inflight == 0 && opened_total == 0) fill_lanes();
    }
  }
}
