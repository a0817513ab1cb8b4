/*
 * Media processing for calls: prompts and music on hold (any sound file converted once to 8 kHz
 * mono and stored as ready-to-send G.711 frames, reference counted), a stereo WAV recorder for one
 * call (customer left, agent right, pause/resume for card capture) or a mono one for voicemail
 * (the customer alone), in-band DTMF detection on G.711 frames, and
 * G.711 silence for a leg with nothing to send.
 *
 * The library is plain computation plus file I/O: no threads, sockets or clocks. Time is passed
 * in by the caller (milliseconds of a monotonic clock). Every object is owned by one thread at a
 * time, except a loaded prompt, which is immutable and may be read from any number of threads at
 * once. All allocation of our own goes through blend_malloc; the libraries used underneath have
 * no allocator hook and use malloc for their private state: speexdsp and sndfile during a prompt
 * load only, sndfile's handle for as long as a recorder is open.
 *
 * Errors: 0 or a negative BLEND_E* code; out-parameters are written only on success.
 */
#ifndef BLEND_MEDIA_MEDIA_H
#define BLEND_MEDIA_MEDIA_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

/* --- Limits ----------------------------------------------------------------------------------- */
/* The one sample rate of telephony G.711. Everything the library hands out runs at this rate. */
#define BLEND_MEDIA_RATE_HZ 8000
/* One RTP packet of G.711 at the usual 20 ms packetisation: 160 samples, one byte each. */
#define BLEND_MEDIA_FRAME_MS 20
#define BLEND_MEDIA_FRAME_SAMPLES 160
#define BLEND_MEDIA_FRAME_BYTES 160
/* Longest prompt: announcements are seconds long and music-on-hold tracks a few minutes; ten
 * minutes holds any real track while keeping one prompt (both laws) under 10 MB of memory. */
#define BLEND_MEDIA_PROMPT_MS_MAX (10 * 60 * 1000)
/* Input sample rates and channel counts a prompt file may have. Outside these the file is not
 * audio we can sensibly convert (or a corrupt header); 192 kHz is the highest rate of studio
 * masters (a higher one also makes the resampling filter needlessly long); eight channels covers
 * 7.1. */
#define BLEND_MEDIA_PROMPT_RATE_HZ_MIN 1000
#define BLEND_MEDIA_PROMPT_RATE_HZ_MAX 192000
#define BLEND_MEDIA_PROMPT_CHANNELS_MAX 8
/* Largest prompt file read from memory (blend_media_prompt_load_memory): ten minutes of 48 kHz
 * stereo 32-bit float is 230 MB, a file that large in memory is a mistake, not a prompt. */
#define BLEND_MEDIA_PROMPT_MEMORY_BYTES_MAX (64 * 1024 * 1024)
/* speexdsp resampler quality (0..10) for the one-time conversion of prompts: 8 keeps aliasing
 * well below G.711's own noise floor; the cost is paid once at load, not per call. */
#define BLEND_MEDIA_RESAMPLE_QUALITY 8
/* Largest G.711 payload accepted in one call to the recorder or the DTMF detector: 200 ms, more
 * than any RTP packetisation in use (and more than fits in one Ethernet frame). */
#define BLEND_MEDIA_PAYLOAD_BYTES_MAX 1600
/* Digits one DTMF feed can report: a digit takes at least 40 ms of tone and 40 ms of pause, so
 * 200 ms of audio completes at most three; the rest of the room is margin. */
#define BLEND_MEDIA_DTMF_DIGITS_MAX 8
/* Recorder: audio is kept in memory for this long behind the newest packet before it is written,
 * so packets up to this late still land in their place; later ones are dropped. */
#define BLEND_MEDIA_REC_JITTER_MS 1000
/* Recorder: audio is written to the file in blocks of this length (one write per second of call,
 * not one per packet). The in-memory window is JITTER + BLOCK. */
#define BLEND_MEDIA_REC_BLOCK_MS 1000
/* Recorder: a packet whose RTP timestamp disagrees with its arrival time by more than this (new
 * SSRC, a sender that restarted its clock, hold) is re-anchored at its arrival time. */
#define BLEND_MEDIA_REC_RESYNC_MS 2000
/* Longest recording: a call longer than 12 hours is a stuck call; 12 h of 8 kHz 16-bit stereo is
 * 1.4 GB, well inside WAV's 4 GiB ceiling. Audio beyond it is refused with BLEND_ELIMIT. */
#define BLEND_MEDIA_REC_MS_MAX (12LL * 3600 * 1000)
/* Pauses (card capture) in one recording. */
#define BLEND_MEDIA_REC_PAUSES_MAX 64

/* --- Codecs and silence ----------------------------------------------------------------------- */
enum blend_media_codec {
    BLEND_MEDIA_PCMU = 0, /* G.711 µ-law, RTP payload type 0 */
    BLEND_MEDIA_PCMA = 1, /* G.711 A-law, RTP payload type 8 */
};

/* The byte that encodes linear 0 in the codec (0xFF for µ-law, 0xD5 for A-law). */
uint8_t blend_media_silence_byte(enum blend_media_codec codec);
/* Fills one 20 ms frame with the codec's silence, for a leg with nothing to send. */
void blend_media_silence_frame(enum blend_media_codec codec, uint8_t out[BLEND_MEDIA_FRAME_BYTES]);
/* G.711 of `count` samples (spandsp's conversions). Never fail. */
void blend_media_encode(enum blend_media_codec codec, const int16_t *pcm, size_t count,
                        uint8_t *out);
void blend_media_decode(enum blend_media_codec codec, const uint8_t *g711, size_t count,
                        int16_t *out);

/* --- Prompts and music on hold ---------------------------------------------------------------- */
struct blend_media_prompt;

/*
 * Loads a sound file of any format, rate, channel count and sample format that libsndfile reads,
 * converts it once to 8 kHz mono (channels averaged, speexdsp resampler) and encodes it to both
 * µ-law and A-law 20 ms frames; the last frame is padded with silence. On success *out holds one
 * reference, owned by the caller (blend_media_prompt_free releases it).
 * Errors: BLEND_ENOENT no such file; BLEND_EPERM not readable (permissions); BLEND_EIO another
 * open or read error, or not a regular file; BLEND_EPARSE not a sound file sndfile recognises,
 * malformed, or a rate/channel count outside the limits; BLEND_EINVAL no audio at all (empty);
 * BLEND_ELIMIT longer than BLEND_MEDIA_PROMPT_MS_MAX; BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_media_prompt_load(const char *path, struct blend_media_prompt **out);
/* The same from a file image in memory (borrowed for the call only); at most
 * BLEND_MEDIA_PROMPT_MEMORY_BYTES_MAX bytes (else BLEND_ELIMIT). Same errors but no file ones. */
BLEND_MUST_USE int blend_media_prompt_load_memory(const void *data, size_t len,
                                                  struct blend_media_prompt **out);
/* References: a loaded prompt is immutable and shared between threads (the host's prompt cache,
 * the telephony thread playing it). blend_media_prompt_ref adds a reference (atomically) and
 * returns the prompt; blend_media_prompt_free releases one and frees the prompt with the last.
 * NULL is accepted by both. */
struct blend_media_prompt *blend_media_prompt_ref(struct blend_media_prompt *prompt);
void blend_media_prompt_free(struct blend_media_prompt *prompt);

/* Number of 20 ms frames (at least 1). Music on hold loops with `index % frames`. */
size_t blend_media_prompt_frames(const struct blend_media_prompt *prompt);
/* Duration of the audio itself in ms (before the padding of the last frame). */
uint64_t blend_media_prompt_duration_ms(const struct blend_media_prompt *prompt);
/* Copies frame `index` in the codec into out. BLEND_EINVAL when index >= frames (out untouched). */
BLEND_MUST_USE int blend_media_prompt_frame(const struct blend_media_prompt *prompt, size_t index,
                                            enum blend_media_codec codec,
                                            uint8_t out[BLEND_MEDIA_FRAME_BYTES]);

/* --- DTMF detection --------------------------------------------------------------------------- */
struct blend_media_dtmf;

/* Digits completed by one feed, in order: '0'-'9', '*', '#', 'A'-'D'; NUL-terminated. */
struct blend_media_digits {
    char digits[BLEND_MEDIA_DTMF_DIGITS_MAX + 1];
    size_t count;
};

/* A detector (spandsp dtmf_rx) for one stream of G.711 in `codec`. Errors: BLEND_ENOMEM. */
BLEND_MUST_USE int blend_media_dtmf_create(enum blend_media_codec codec,
                                           struct blend_media_dtmf **out);
/*
 * Feeds the next `len` bytes of the stream (any length up to BLEND_MEDIA_PAYLOAD_BYTES_MAX, usually
 * one 20 ms RTP payload). State is kept across feeds, so a digit spanning packets is found once.
 * *out gets the digits completed during this feed (often none). Errors: BLEND_ELIMIT len too large.
 */
BLEND_MUST_USE int blend_media_dtmf_feed(struct blend_media_dtmf *dtmf, const uint8_t *g711,
                                         size_t len, struct blend_media_digits *out);
void blend_media_dtmf_destroy(struct blend_media_dtmf *dtmf);

/* --- Call recording --------------------------------------------------------------------------- */
struct blend_media_recorder;

enum blend_media_side {
    BLEND_MEDIA_CUSTOMER = 0, /* left channel */
    BLEND_MEDIA_AGENT = 1,    /* right channel */
};

/* One RTP payload as the relay received it. */
struct blend_media_packet {
    enum blend_media_side side;
    enum blend_media_codec codec;
    uint32_t rtp_ts;        /* the RTP header's timestamp (8 kHz units) */
    uint64_t arrival_ms;    /* when it arrived, on the clock passed to open */
    const uint8_t *payload; /* borrowed; payload_bytes samples of G.711 */
    size_t payload_bytes;
};

/* A paused span, in ms from the recording's start: [start_ms, end_ms). While a pause is still
 * open (before resume or close) its end_ms is UINT64_MAX. */
struct blend_media_span {
    uint64_t start_ms;
    uint64_t end_ms;
};

struct blend_media_rec_summary {
    uint64_t frames;      /* sample frames in the file (one sample per channel each) */
    uint64_t duration_ms; /* frames / 8 */
    size_t pauses_count;
    struct blend_media_span pauses[BLEND_MEDIA_REC_PAUSES_MAX];
    uint64_t packets[2];        /* accepted, per side */
    uint64_t dropped_late[2];   /* duplicates and packets older than the written audio */
    uint64_t dropped_paused[2]; /* arrived while paused */
    uint64_t resyncs[2];        /* re-anchorings on the arrival time */
    int error;                  /* first error met (0: none), e.g. BLEND_EIO for a write */
};

/*
 * Creates `path` (never overwrites: BLEND_EEXIST; mode 0600) as a stereo 8 kHz 16-bit PCM WAV
 * whose time zero is `start_ms`. Errors: BLEND_EEXIST, BLEND_ENOENT (no such directory),
 * BLEND_EPERM, BLEND_EIO, BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_media_recorder_open(const char *path, uint64_t start_ms,
                                             struct blend_media_recorder **out);
/*
 * Voicemail: the same as blend_media_recorder_open, but the WAV is mono (8 kHz 16-bit) and
 * holds the customer side alone; packets of the agent side are ignored (0, not counted). Every
 * other call (push, pause, resume, close, summary) works as for a stereo recorder.
 */
BLEND_MUST_USE int blend_media_recorder_open_mono(const char *path, uint64_t start_ms,
                                                  struct blend_media_recorder **out);
/*
 * Places one packet on its side's channel: at its arrival time for the first packet of a side,
 * then by RTP timestamp (so arrival jitter does not cut the audio). Duplicates and packets whose
 * place is already covered or written are dropped (0, counted); a gap is silence. Packets that
 * arrive while paused are dropped (0, counted). Errors: BLEND_ELIMIT payload over
 * BLEND_MEDIA_PAYLOAD_BYTES_MAX or audio beyond BLEND_MEDIA_REC_MS_MAX; BLEND_EINVAL arrival
 * before the start; BLEND_ECLOSED after close; BLEND_EIO the file could not be written (sticky:
 * every later push returns it; close still leaves a valid WAV of what was written).
 */
BLEND_MUST_USE int blend_media_recorder_push(struct blend_media_recorder *rec,
                                             const struct blend_media_packet *packet);
/* Payment card capture: from now_ms until resume, both channels are silence in the file (the
 * timeline keeps its length). Errors: BLEND_ESTATE already paused / not paused / closed;
 * BLEND_ELIMIT more than BLEND_MEDIA_REC_PAUSES_MAX pauses; BLEND_EINVAL now before the start
 * or before the previous pause's end. */
BLEND_MUST_USE int blend_media_recorder_pause(struct blend_media_recorder *rec, uint64_t now_ms);
BLEND_MUST_USE int blend_media_recorder_resume(struct blend_media_recorder *rec, uint64_t now_ms);
/*
 * Writes everything up to max(now_ms, the end of the last packet), silence where nothing came,
 * ends an open pause at that point, and closes the file (its header is final). Returns the first
 * error met during the recording (the file is a valid WAV of what was written in any case).
 * After close, push/pause/resume return BLEND_ECLOSED / BLEND_ESTATE; summary stays available.
 */
BLEND_MUST_USE int blend_media_recorder_close(struct blend_media_recorder *rec, uint64_t now_ms);
/* Counters and paused spans so far (final after close). */
void blend_media_recorder_summary(const struct blend_media_recorder *rec,
                                  struct blend_media_rec_summary *out);
/* Closes the file if still open (errors ignored) and frees the recorder. NULL is allowed. */
void blend_media_recorder_destroy(struct blend_media_recorder *rec);

#endif
