// nanomsg defines its protocol and option numbers as macros built from other macros,
// which Swift cannot import. This shim re-exports the ones rpp uses as constants.
#ifndef RPP_CNANOMSG_SHIM_H
#define RPP_CNANOMSG_SHIM_H
#include <stddef.h>
#include <stdint.h>

extern const int rpp_nn_af_sp, rpp_nn_af_sp_raw;
extern const int rpp_nn_push, rpp_nn_pull;
extern const int rpp_nn_req, rpp_nn_rep;
extern const int rpp_nn_pub, rpp_nn_sub;
extern const int rpp_nn_surveyor, rpp_nn_respondent;
extern const int rpp_nn_pair, rpp_nn_bus;

extern const int rpp_nn_sol_socket;
extern const int rpp_nn_linger, rpp_nn_sndbuf, rpp_nn_rcvbuf;
extern const int rpp_nn_sndtimeo, rpp_nn_rcvtimeo, rpp_nn_rcvmaxsize;
extern const int rpp_nn_reconnect_ivl, rpp_nn_reconnect_ivl_max;
extern const int rpp_nn_sub_subscribe;
extern const int rpp_nn_surveyor_deadline;
extern const int rpp_nn_req_resend_ivl;
extern const int rpp_nn_dontwait;
extern const int rpp_nn_tcp_nodelay;
extern const int rpp_nn_tcp;

extern const int rpp_nn_eagain, rpp_nn_etimedout, rpp_nn_eintr, rpp_nn_ebadf, rpp_nn_eterm, rpp_nn_efsm;

/// NN_MSG: pass as the length to nn_send/nn_recv for zero-copy messages.
extern const size_t rpp_nn_msg;

/// Receives one message on a raw (AF_SP_RAW) REQ socket with nn_recvmsg: *message gets the body (release it
/// with nn_freemsg), *request_id the request id of its SP header (0 when it has none). Returns what nn_recv does.
int rpp_nn_recv_with_request_id(int s, void **message, uint32_t *request_id, int flags);

struct nn_iovec;
/// Sends the gathered `iov` on a raw (AF_SP_RAW) REQ socket with `request_id` as its SP header, which every
/// transport (inproc too) then carries as a REQ socket's own header. Returns what nn_sendmsg does.
int rpp_nn_send_with_request_id(int s, struct nn_iovec *iov, int iovlen, uint32_t request_id, int flags);

#endif
