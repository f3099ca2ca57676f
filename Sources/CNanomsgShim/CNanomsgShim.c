#include "CNanomsgShim.h"
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/survey.h>
#include <nanomsg/pair.h>
#include <nanomsg/bus.h>
#include <nanomsg/tcp.h>

const int rpp_nn_af_sp = AF_SP;
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
