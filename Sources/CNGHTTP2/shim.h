#ifndef CUTOVER_CNGHTTP2_SHIM_H
#define CUTOVER_CNGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <string.h>

/* nghttp2_frame is a union of frame structs and nghttp2_data_provider holds a union; these
   helpers read and build them so Swift never depends on how the importer lays unions out. */

static inline uint8_t cutover_h2_frame_type(const nghttp2_frame *frame) { return frame->hd.type; }
static inline uint8_t cutover_h2_frame_flags(const nghttp2_frame *frame) { return frame->hd.flags; }
static inline int32_t cutover_h2_frame_stream_id(const nghttp2_frame *frame) { return frame->hd.stream_id; }
static inline size_t cutover_h2_frame_length(const nghttp2_frame *frame) { return frame->hd.length; }

/* The category of a HEADERS frame (request, response, push response or trailers/1xx follow-up). */
static inline int cutover_h2_headers_category(const nghttp2_frame *frame) { return (int)frame->headers.cat; }

static inline uint32_t cutover_h2_goaway_error_code(const nghttp2_frame *frame) { return frame->goaway.error_code; }
static inline int32_t cutover_h2_goaway_last_stream_id(const nghttp2_frame *frame) { return frame->goaway.last_stream_id; }
static inline uint32_t cutover_h2_rst_stream_error_code(const nghttp2_frame *frame) { return frame->rst_stream.error_code; }

/* A data provider whose source is the stream id: the read callback looks the body up by it. */
static inline nghttp2_data_provider cutover_h2_data_provider(nghttp2_data_source_read_callback callback) {
    nghttp2_data_provider provider;
    memset(&provider, 0, sizeof provider);
    provider.source.ptr = NULL;
    provider.read_callback = callback;
    return provider;
}

/* One name/value pair pointing into caller-owned bytes (nghttp2 copies them on submit). */
static inline nghttp2_nv cutover_h2_nv(uint8_t *name, size_t name_length, uint8_t *value, size_t value_length, uint8_t flags) {
    nghttp2_nv nv;
    nv.name = name;
    nv.namelen = name_length;
    nv.value = value;
    nv.valuelen = value_length;
    nv.flags = flags;
    return nv;
}

static inline nghttp2_settings_entry cutover_h2_setting(int32_t id, uint32_t value) {
    nghttp2_settings_entry entry;
    entry.settings_id = id;
    entry.value = value;
    return entry;
}

#endif
