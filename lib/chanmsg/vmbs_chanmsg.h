/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * VMBus channel (SynIC) message codec, wire reference b.3: decodes the
 * messages a guest posts to the server, and encodes messages in both
 * directions (the server's replies and offers; the scripted test guest's
 * requests). A message is at most VMBS_CHMSG_MAX_SIZE (240) bytes.
 *
 * Decoding trusts nothing: the message is copied into a local once, then
 * its length is checked against the type's fixed size. Length rule, per
 * type (sizes include the 8-byte header):
 *
 * | type                        | min | longer than min                      |
 * |-----------------------------|-----|--------------------------------------|
 * | OFFERCHANNEL                | 196 | accepted, tail ignored               |
 * | RESCIND, CLOSE, RELID_REL.  |  12 | accepted, tail ignored               |
 * | REQUESTOFFERS, ALLOFFERS_D. |   8 | accepted, tail ignored               |
 * | UNLOAD, UNLOAD_RESPONSE     |   8 | accepted, tail ignored               |
 * | OPENCHANNEL                 | 148 | accepted: OpenChannel2 is 156 (6.0)  |
 * | OPENCHANNEL_RESULT          |  20 | accepted, tail ignored               |
 * | GPADL_HEADER                |  20 | variable: range bytes, see below     |
 * | GPADL_BODY                  |  24 | variable: u64 words, see below       |
 * | GPADL_CREATED               |  20 | accepted, tail ignored               |
 * | GPADL_TEARDOWN, MODIFYCHAN. |  16 | accepted, tail ignored               |
 * | GPADL_TORNDOWN              |  12 | accepted, tail ignored               |
 * | INITIATE_CONTACT            |  40 | accepted: 56 with client id (6.0)    |
 * | VERSION_RESPONSE            |  16 | accepted: 20/40 in 6.0               |
 *
 * Longer messages are accepted for every fixed-size type, as guest-side
 * VMBus drivers do with the host's messages: the extra bytes carry no
 * state we act on, and rejecting them would only break a newer or padding
 * peer. Only the fixed part is decoded; @c len tells the caller whether a
 * grown form arrived.
 *
 * Threading: pure functions over caller memory and an iterator the caller
 * owns; no global state, no EAL: thread-safe.
 *
 * GPADL creation from the guest side, without any large allocation:
 * @code
 *	struct vmbs_chmsg_gpadl_gen g;
 *	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
 *	int n;
 *
 *	vmbs_chmsg_gpadl_gen_init(&g, relid, gpadl, range_cnt, ranges, ranges_len);
 *	while ((n = vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg))) > 0)
 *		post_message(msg, n);	// one GPADL_HEADER, then GPADL_BODYs
 * @endcode
 */

#ifndef VMBS_CHANMSG_H
#define VMBS_CHANMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_wire.h"

/** Bytes of range data a GPADL_HEADER can carry: 27 u64 words. */
#define VMBS_CHMSG_GPADL_HEADER_MAX_DATA \
	((VMBS_CHMSG_MAX_SIZE - sizeof(struct vmbs_chmsg_gpadl_header)) & ~(size_t)7)

/** Bytes of range data a GPADL_BODY can carry: 28 u64 words. */
#define VMBS_CHMSG_GPADL_BODY_MAX_DATA (VMBS_GPADL_BODY_MAX_WORDS * sizeof(uint64_t))

/** Most range data one GPADL can have: range_buflen is a u16 of 8-byte units. */
#define VMBS_CHMSG_GPADL_MAX_DATA (UINT16_MAX & ~7u)

/** GPADL_HEADER, decoded: fixed fields plus the range bytes it carries. */
struct vmbs_chmsg_gpadl_header_info {
	struct vmbs_chmsg_gpadl_header fixed;	/**< relid, gpadl, range_buflen, range_cnt */
	/**
	 * The range bytes in this message (offset 20 of the message; may be
	 * unaligned). Decode: points into the caller's buffer, valid as long
	 * as it is, and NOT validated (lib/gpadl checks the assembled list
	 * with vmbs_gparange_check()). Encode: the bytes to send.
	 */
	const uint8_t *ranges;
	uint32_t ranges_len;	/**< multiple of 8, <= fixed.range_buflen */
};

/** GPADL_BODY, decoded: fixed fields plus the u64 words it carries. */
struct vmbs_chmsg_gpadl_body_info {
	struct vmbs_chmsg_gpadl_body fixed;	/**< msgnumber, gpadl */
	/**
	 * The words (offset 16 of the message). Decode: points into the
	 * caller's buffer, valid as long as it is, not validated. Encode: the
	 * words to send.
	 */
	const uint8_t *words;
	uint32_t word_cnt;	/**< 1..VMBS_GPADL_BODY_MAX_WORDS */
};

/** A decoded channel message: a tagged union of the fixed parts. */
struct vmbs_chmsg {
	enum vmbs_chmsg_type type;	/**< selects the member of u */
	uint32_t len;			/**< decode: message length as received */
	union {
		struct vmbs_chmsg_offer offer;			/**< OFFERCHANNEL */
		/** RESCIND_CHANNELOFFER, CLOSECHANNEL, RELID_RELEASED */
		struct vmbs_chmsg_relid relid;
		struct vmbs_chmsg_open open;			/**< OPENCHANNEL (fixed 148 B) */
		struct vmbs_chmsg_open_result open_result;	/**< OPENCHANNEL_RESULT */
		struct vmbs_chmsg_gpadl_header_info gpadl_header; /**< GPADL_HEADER */
		struct vmbs_chmsg_gpadl_body_info gpadl_body;	/**< GPADL_BODY */
		struct vmbs_chmsg_gpadl_created gpadl_created;	/**< GPADL_CREATED */
		struct vmbs_chmsg_gpadl_teardown gpadl_teardown; /**< GPADL_TEARDOWN */
		struct vmbs_chmsg_gpadl_torndown gpadl_torndown; /**< GPADL_TORNDOWN */
		struct vmbs_chmsg_initiate_contact initiate_contact; /**< INITIATE_CONTACT */
		struct vmbs_chmsg_version_response version_response; /**< VERSION_RESPONSE */
		struct vmbs_chmsg_modify_channel modify_channel; /**< MODIFYCHANNEL */
	} u;	/**< nothing for REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD(_RESPONSE) */
};

/**
 * Decode and validate one channel message.
 *
 * GPADL_HEADER also requires: range_cnt > 0; range_buflen a multiple of 8
 * and at least 16 per range (a range is 8 bytes plus at least one PFN);
 * the bytes present (len - 20) a multiple of 8 and <= range_buflen.
 * GPADL_BODY requires len - 16 to be a non-zero multiple of 8.
 *
 * @param buf
 *   the message, in private memory. GPADL pointers in @p out point into it.
 * @param len
 *   the message length (the SynIC payload size, not the slot size).
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 if valid; -EBADMSG if @p len is outside [8, 240], the type is not a
 *   VMBus message type, the message is shorter than its type's minimum,
 *   or a GPADL rule above fails; -EOPNOTSUPP for a VMBus type this codec
 *   does not handle (18..21, 23..29: reserved channels, TL connect,
 *   MODIFYCHANNEL_RESPONSE, Copper connection messages); -EINVAL if
 *   @p buf or @p out is NULL.
 */
int vmbs_chmsg_decode(const void *buf, size_t len, struct vmbs_chmsg *out);

/**
 * Encode any supported message from its decoded form. The header's padding
 * is written as 0; fixed-size types are written at their minimum size.
 *
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available at @p buf.
 * @param msg
 *   type and fields (msg->len is ignored). GPADL_HEADER: ranges_len must
 *   obey the decoder's rules and fit in one message; GPADL_BODY: word_cnt
 *   1..28.
 * @return
 *   bytes written (8..240); -EINVAL for NULL pointers, an unsupported type
 *   or GPADL fields the decoder would reject; -ENOBUFS if @p buf_len is too
 *   small (nothing written).
 */
int vmbs_chmsg_encode(void *buf, size_t buf_len, const struct vmbs_chmsg *msg);

/**
 * OFFERCHANNEL (196 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param offer
 *   every field; offer->hdr is ignored and rewritten.
 * @return
 *   196; -EINVAL if @p buf or @p offer is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_offer(void *buf, size_t buf_len,
			    const struct vmbs_chmsg_offer *offer);

/**
 * RESCIND_CHANNELOFFER (12 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   channel being withdrawn.
 * @return
 *   12; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_rescind(void *buf, size_t buf_len, uint32_t child_relid);

/**
 * REQUESTOFFERS (8 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @return
 *   8; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_requestoffers(void *buf, size_t buf_len);

/**
 * ALLOFFERS_DELIVERED (8 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @return
 *   8; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_alloffers_delivered(void *buf, size_t buf_len);

/**
 * OPENCHANNEL (148 B, pre-6.0 form), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param open
 *   every field; open->hdr is ignored and rewritten.
 * @return
 *   148; -EINVAL if @p buf or @p open is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_open(void *buf, size_t buf_len,
			   const struct vmbs_chmsg_open *open);

/**
 * OPENCHANNEL_RESULT (20 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @param openid
 *   echoed from OPENCHANNEL.
 * @param status
 *   0 on success.
 * @return
 *   20; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_open_result(void *buf, size_t buf_len, uint32_t child_relid,
				  uint32_t openid, uint32_t status);

/**
 * CLOSECHANNEL (12 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @return
 *   12; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_close(void *buf, size_t buf_len, uint32_t child_relid);

/**
 * GPADL_HEADER (20 B + range bytes), guest to server. Use the generator
 * (vmbs_chmsg_gpadl_gen_*) to split a whole GPADL.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @param gpadl
 *   GPADL id chosen by the guest.
 * @param range_buflen
 *   bytes of the whole range list (this message and the bodies).
 * @param range_cnt
 *   ranges in the whole list, > 0.
 * @param ranges
 *   the first @p ranges_len bytes of the list.
 * @param ranges_len
 *   multiple of 8, <= @p range_buflen and <= 216.
 * @return
 *   20 + @p ranges_len; -EINVAL for NULL pointers or lengths the decoder
 *   would reject; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_gpadl_header(void *buf, size_t buf_len, uint32_t child_relid,
				   uint32_t gpadl, uint16_t range_buflen,
				   uint16_t range_cnt, const void *ranges,
				   uint32_t ranges_len);

/**
 * GPADL_BODY (16 B + 8 * @p word_cnt), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param msgnumber
 *   sequence number (not checked by known hosts).
 * @param gpadl
 *   GPADL id from the header.
 * @param words
 *   the next @p word_cnt u64 words of the range list (any alignment).
 * @param word_cnt
 *   1..28.
 * @return
 *   16 + 8 * @p word_cnt; -EINVAL for NULL pointers or a bad @p word_cnt;
 *   -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_gpadl_body(void *buf, size_t buf_len, uint32_t msgnumber,
				 uint32_t gpadl, const void *words, uint32_t word_cnt);

/**
 * GPADL_CREATED (20 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @param gpadl
 *   the GPADL id.
 * @param status
 *   0 on success, VMBS_GPADL_STATUS_FAILURE otherwise.
 * @return
 *   20; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_gpadl_created(void *buf, size_t buf_len, uint32_t child_relid,
				    uint32_t gpadl, uint32_t status);

/**
 * GPADL_TEARDOWN (16 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @param gpadl
 *   the GPADL id.
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_gpadl_teardown(void *buf, size_t buf_len, uint32_t child_relid,
				     uint32_t gpadl);

/**
 * GPADL_TORNDOWN (12 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param gpadl
 *   the GPADL id.
 * @return
 *   12; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_gpadl_torndown(void *buf, size_t buf_len, uint32_t gpadl);

/**
 * RELID_RELEASED (12 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @return
 *   12; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_relid_released(void *buf, size_t buf_len, uint32_t child_relid);

/**
 * INITIATE_CONTACT (40 B, pre-6.0 form), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param version
 *   VMBS_VERSION(major, minor).
 * @param target_vcpu
 *   vCPU for server messages.
 * @param interrupt_page
 *   interrupt page GPA, or for >= 5.0 {u8 sint, u8 vtl, u16 0, u32 features}.
 * @param monitor_page1
 *   parent-to-child monitor page GPA.
 * @param monitor_page2
 *   child-to-parent monitor page GPA.
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_initiate_contact(void *buf, size_t buf_len, uint32_t version,
				       uint32_t target_vcpu, uint64_t interrupt_page,
				       uint64_t monitor_page1, uint64_t monitor_page2);

/**
 * VERSION_RESPONSE (16 B, pre-6.0 form), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param supported
 *   true if the requested version is accepted.
 * @param connection_state
 *   connection state byte (0).
 * @param msg_conn_id
 *   message connection id (VMBS_MSG_CONN_ID_V5 for >= 5.0).
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_version_response(void *buf, size_t buf_len, bool supported,
				       uint8_t connection_state, uint32_t msg_conn_id);

/**
 * UNLOAD (8 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @return
 *   8; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_unload(void *buf, size_t buf_len);

/**
 * UNLOAD_RESPONSE (8 B), server to guest.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @return
 *   8; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_unload_response(void *buf, size_t buf_len);

/**
 * MODIFYCHANNEL (16 B), guest to server.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param child_relid
 *   the channel.
 * @param target_vp
 *   new interrupt target vCPU.
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if too small.
 */
int vmbs_chmsg_encode_modify_channel(void *buf, size_t buf_len, uint32_t child_relid,
				     uint32_t target_vp);

/** Splits one GPADL's range data into GPADL_HEADER + GPADL_BODY messages. */
struct vmbs_chmsg_gpadl_gen {
	const uint8_t *data;	/**< the caller's range bytes, borrowed */
	uint32_t len;		/**< total range bytes = range_buflen */
	uint32_t pos;		/**< bytes already emitted */
	uint32_t child_relid;	/**< channel the GPADL belongs to */
	uint32_t gpadl;		/**< GPADL id */
	uint32_t msgnumber;	/**< msgnumber of the next GPADL_BODY */
	uint16_t range_cnt;	/**< ranges in the whole list */
	bool header_sent;	/**< GPADL_HEADER already emitted */
};

/**
 * Start splitting a GPADL. The range bytes are not copied: they must stay
 * valid and unchanged until the last vmbs_chmsg_gpadl_gen_next(). Their
 * content is not validated, so a test guest can send malformed lists;
 * check them first with vmbs_gparange_check() when that is not wanted.
 *
 * @param g
 *   generator to initialise.
 * @param child_relid
 *   the channel.
 * @param gpadl
 *   GPADL id.
 * @param range_cnt
 *   ranges in the list, 1..65535.
 * @param ranges
 *   the whole range list.
 * @param ranges_len
 *   its length: a multiple of 8, >= 16 * @p range_cnt, <= 65528.
 * @return
 *   0; -EINVAL for NULL pointers or lengths the decoder would reject.
 */
int vmbs_chmsg_gpadl_gen_init(struct vmbs_chmsg_gpadl_gen *g, uint32_t child_relid,
			      uint32_t gpadl, uint32_t range_cnt,
			      const void *ranges, size_t ranges_len);

/**
 * Emit the next message: first a GPADL_HEADER with up to 216 range bytes,
 * then GPADL_BODY messages of up to 28 words, numbered from 1 upwards.
 *
 * @param g
 *   an initialised generator.
 * @param buf
 *   output buffer; VMBS_CHMSG_MAX_SIZE bytes always suffice.
 * @param buf_len
 *   bytes available.
 * @return
 *   the message length (> 0); 0 once every byte was emitted; -ENOBUFS if
 *   @p buf_len is too small (the generator does not advance); -EINVAL if
 *   an argument is NULL.
 */
int vmbs_chmsg_gpadl_gen_next(struct vmbs_chmsg_gpadl_gen *g, void *buf,
			      size_t buf_len);

/**
 * Number of messages (header + bodies) a GPADL of @p ranges_len range bytes
 * takes.
 *
 * @param ranges_len
 *   range bytes (a multiple of 8).
 * @return
 *   1 + ceil(max(0, ranges_len - 216) / 224).
 */
uint32_t vmbs_chmsg_gpadl_msg_count(uint32_t ranges_len);

/**
 * Name of a message type for logs, e.g. "OPENCHANNEL".
 *
 * @param type
 *   any value, guest-controlled included.
 * @return
 *   a static string; "UNKNOWN" for values that are not VMBus message types.
 */
const char *vmbs_chmsg_type_name(uint32_t type);

#endif /* VMBS_CHANMSG_H */
