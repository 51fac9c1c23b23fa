/* mhd_hello: the libmicrohttpd peer of `make bench`. GET /hello answers
 * "Hello, world!" from one response object made at start and queued for every
 * request, so the figures are the library's, not this program's.
 *
 *   cc -O2 -o mhd_hello tests/bench/mhd_hello.c -lmicrohttpd
 *   mhd_hello PORT        (0 picks one; prints "mhd_hello listening on port N")
 *
 * One internal thread on epoll (the closest match to one gust loop), no
 * connection timeout (idle keep-alive connections are measured), and a
 * connection limit well above the 10 000 the bench holds. Exits 0 on SIGTERM
 * or SIGINT. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char kHello[] = "Hello, world!";
static struct MHD_Response* g_hello;
static struct MHD_Response* g_missing;

static enum MHD_Result on_request(void* cls, struct MHD_Connection* conn, const char* url, const char* method,
                                  const char* version, const char* upload_data, size_t* upload_size,
                                  void** state) {
    (void)cls;
    (void)version;
    (void)upload_data;
    static int seen;
    /* The first call only announces the request: a response queued then
     * (before MHD knows the request has no body) makes MHD close the
     * connection, which would turn every keep-alive run into new connections. */
    if (*state == NULL) {
        *state = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/hello") == 0)
        return MHD_queue_response(conn, MHD_HTTP_OK, g_hello);
    return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, g_missing);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mhd_hello PORT\n");
        return 2;
    }
    unsigned port = (unsigned)strtoul(argv[1], NULL, 10);
    g_hello = MHD_create_response_from_buffer(sizeof kHello - 1, (void*)kHello, MHD_RESPMEM_PERSISTENT);
    g_missing = MHD_create_response_from_buffer(0, (void*)"", MHD_RESPMEM_PERSISTENT);
    if (!g_hello || !g_missing || MHD_add_response_header(g_hello, "Content-Type", "text/plain") != MHD_YES)
        return 1;

    /* Signals are taken synchronously by sigwait below; blocked before the
     * daemon's thread starts, so it inherits the mask and never takes them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon* d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr*)&addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)30000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_hello: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    const union MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("mhd_hello listening on port %u\n", info ? (unsigned)info->port : port);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(g_hello);
    MHD_destroy_response(g_missing);
    return 0;
}
