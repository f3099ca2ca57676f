#include "CNanomsgShim.h"
#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/survey.h>
#include <nanomsg/pair.h>
#include <nanomsg/bus.h>
#include <nanomsg/tcp.h>

const int rpp_nn_af_sp = AF_SP, rpp_nn_af_sp_raw = AF_SP_RAW;
const int rpp_nn_push = NN_PUSH, rpp_nn_pull = NN_PULL;
const int rpp_nn_req = NN_REQ, rpp_nn_rep = NN_REP;
const int rpp_nn_pub = NN_PUB, rpp_nn_sub = NN_SUB;
const int rpp_nn_surveyor = NN_SURVEYOR, rpp_nn_respondent = NN_RESPONDENT;
const int rpp_nn_pair = NN_PAIR, rpp_nn_bus = NN_BUS;

const int rpp_nn_sol_socket = NN_SOL_SOCKET;
const int rpp_nn_linger = NN_LINGER, rpp_nn_sndbuf = NN_SNDBUF, rpp_nn_rcvbuf = NN_RCVBUF;
const int rpp_nn_sndtimeo = NN_SNDTIMEO, rpp_nn_rcvtimeo = NN_RCVTIMEO, rpp_nn_rcvmaxsize = NN_RCVMAXSIZE;
const int rpp_nn_reconnect_ivl = NN_RECONNECT_IVL, rpp_nn_reconnect_ivl_max = NN_RECONNECT_IVL_MAX;
const int rpp_nn_sub_subscribe = NN_SUB_SUBSCRIBE;
const int rpp_nn_surveyor_deadline = NN_SURVEYOR_DEADLINE;
const int rpp_nn_req_resend_ivl = NN_REQ_RESEND_IVL;
const int rpp_nn_dontwait = NN_DONTWAIT;
const int rpp_nn_tcp_nodelay = NN_TCP_NODELAY;
const int rpp_nn_tcp = NN_TCP;

const int rpp_nn_eagain = EAGAIN, rpp_nn_etimedout = ETIMEDOUT, rpp_nn_eintr = EINTR;
const int rpp_nn_ebadf = EBADF, rpp_nn_eterm = ETERM, rpp_nn_efsm = EFSM;

const size_t rpp_nn_msg = NN_MSG;

int rpp_nn_recv_with_request_id(int s, void **message, uint32_t *request_id, int flags) {
    struct nn_iovec iov = { message, NN_MSG };
    // Room for one SP_HDR property of a few backtrace entries; nanomsg leaves out what does not fit.
    unsigned char control[256];
    struct nn_msghdr header = { &iov, 1, control, sizeof control };
    *request_id = 0;
    int rc = nn_recvmsg(s, &header, flags);
    if (rc < 0) return rc;
    for (struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR(&header); c; c = NN_CMSG_NXTHDR(&header, c)) {
        if (c->cmsg_level != PROTO_SP || c->cmsg_type != SP_HDR) continue;
        const unsigned char *data = NN_CMSG_DATA(c);
        size_t size;
        memcpy(&size, data, sizeof size);
        if (size >= 4) {
            const unsigned char *id = data + sizeof size;
            *request_id = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
        }
        break;
    }
    return rc;
}

int rpp_nn_send_with_request_id(int s, struct nn_iovec *iov, int iovlen, uint32_t request_id, int flags) {
    // One SP_HDR property: its size (size_t), then the id big-endian, as nn_recvmsg hands the header out.
    union { struct nn_cmsghdr header; unsigned char bytes[NN_CMSG_SPACE(sizeof(size_t) + 4)]; } control;
    memset(&control, 0, sizeof control);
    control.header.cmsg_len = NN_CMSG_LEN(sizeof(size_t) + 4);
    control.header.cmsg_level = PROTO_SP;
    control.header.cmsg_type = SP_HDR;
    unsigned char *data = NN_CMSG_DATA(&control.header);
    size_t size = 4;
    memcpy(data, &size, sizeof size);
    unsigned char id[4] = { request_id >> 24, (request_id >> 16) & 0xff, (request_id >> 8) & 0xff, request_id & 0xff };
    memcpy(data + sizeof size, id, 4);
    struct nn_msghdr header = { iov, iovlen, &control, sizeof control };
    return nn_sendmsg(s, &header, flags);
}
