/*
 * Spoken prompts for the IVR: the audio of a text in a language (rendered by the espeak-ng CLI)
 * or of a sound file, as a loaded, reference-counted G.711 prompt (media.h). The service lives on
 * the server's libuv loop and answers every request through a callback that runs later on that
 * loop, never inside the call that asked.
 *
 * Texts are rendered once: the WAV espeak-ng writes is kept in a disk cache named by a BLAKE2b of
 * (voice, words per minute, espeak-ng version, text), written under a temporary name and renamed
 * into place only once it loaded as a prompt, so a final name always holds a whole, valid file.
 * Loaded prompts (texts and files) stay in memory in one LRU bounded by memory_bytes_max;
 * requests for a prompt that is being prepared wait for that one preparation (one espeak-ng
 * process, one load). Sound files are loaded on the thread pool, never on the loop.
 *
 * Invariants: every accepted request gets exactly one callback (with a new prompt reference or
 * an error); at most renders_max espeak-ng processes run at once, each killed after
 * render_timeout_ms; after destroy the loop must run until it has no handles left (the service
 * frees itself when its last process, timer and thread-pool job have finished).
 * See docs/prompts.md for the behaviour by language and docs/adr/0013 for the choice.
 */
#ifndef BLEND_API_PROMPTS_H
#define BLEND_API_PROMPTS_H

#include "base/error.h"
#include "media/media.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* --- Limits ----------------------------------------------------------------------------------- */
/* Longest text: a prompt is a sentence or a short paragraph (4 KiB is a minute or more of
 * speech); the text is passed as one argv string, far below Linux's 128 KiB per argument. */
#define BLEND_PROMPTS_TEXT_BYTES_MAX 4096
/* Requests waiting for their callback at once (all callers together); beyond it BLEND_ELIMIT.
 * Ten times the largest expected count of simultaneous IVR calls asking for a prompt. */
#define BLEND_PROMPTS_REQUESTS_MAX 4096
/* Prompts being prepared at once (version probe, disk check, queued or running render, load);
 * beyond it BLEND_ELIMIT. A flow set pre-rendering all its texts stays well below it. */
#define BLEND_PROMPTS_PENDING_MAX 1024
/* Concurrent espeak-ng processes: each takes one core for tens of milliseconds per sentence. */
#define BLEND_PROMPTS_RENDERS_MAX 16
#define BLEND_PROMPTS_RENDERS_DEFAULT 2
/* A render (or the version probe) still running after this is killed (BLEND_EIO): espeak-ng
 * renders a long paragraph in well under a second, so ten seconds means it is stuck. */
#define BLEND_PROMPTS_RENDER_TIMEOUT_MS 10000
/* Memory for loaded prompts (frames x 160 bytes x 2 laws): 64 MiB is about 70 minutes of audio,
 * every prompt of a large IVR; at most 1 GiB. */
#define BLEND_PROMPTS_MEMORY_BYTES_DEFAULT ((size_t)64 * 1024 * 1024)
#define BLEND_PROMPTS_MEMORY_BYTES_MAX ((size_t)1024 * 1024 * 1024)
/* espeak-ng's own speed bounds (-s): below 80 it is unintelligibly slow, above 450 too fast. */
#define BLEND_PROMPTS_WPM_MIN 80
#define BLEND_PROMPTS_WPM_MAX 450
/* Longest language tag accepted ("en-gb-x-gbcwmd" is 14). */
#define BLEND_PROMPTS_LANGUAGE_BYTES_MAX 32

struct blend_prompts;

struct blend_prompts_config {
    uv_loop_t *loop;            /* borrowed; the service runs on it */
    const char *cache_dir;      /* rendered WAVs, created (one level, 0750) if missing */
    const char *files_dir;      /* base for relative prompt file paths (NULL = cwd) */
    const char *espeak_path;    /* NULL = "espeak-ng" found on PATH */
    int renders_max;            /* concurrent espeak-ng processes; 0 = 2, at most 16 */
    size_t memory_bytes_max;    /* loaded prompts kept in memory (LRU); 0 = 64 MiB */
    int words_per_minute;       /* 0 = espeak-ng's default (175); else 80..450 */
    uint64_t render_timeout_ms; /* 0 = BLEND_PROMPTS_RENDER_TIMEOUT_MS; may only be lowered */
};

/* Counters since create. */
struct blend_prompts_stats {
    uint64_t renders;     /* espeak-ng render processes started (spawn attempts) */
    uint64_t probes;      /* espeak-ng --version processes started (one per service, plus retries
                             after espeak-ng was missing) */
    uint64_t disk_hits;   /* texts loaded from the disk cache without a render */
    uint64_t memory_hits; /* requests answered from memory (LRU) */
    uint64_t joined;      /* requests that waited for a preparation already under way */
    uint64_t file_loads;  /* sound files loaded from files_dir */
    uint64_t failures;    /* preparations that failed (render, probe, load, stat) */
    uint64_t evictions;   /* prompts dropped from memory by the LRU */
    size_t memory_bytes;  /* bytes of the prompts held in memory now */
    size_t cached;        /* prompts held in memory now */
};

/*
 * The answer to a request. rc 0: p is a new reference owned by the callee (release it with
 * blend_media_prompt_free). Else p is NULL and rc is: BLEND_ENOENT file missing or espeak-ng
 * missing; BLEND_EIO render failed, killed, timed out or its file could not be read;
 * BLEND_ECLOSED the service was destroyed first (the callback then runs during destroy); or an
 * error of blend_media_prompt_load (BLEND_EPARSE, BLEND_EINVAL empty audio, BLEND_ELIMIT,
 * BLEND_EPERM, BLEND_ENOMEM). `token` is the caller's, echoed.
 */
typedef void blend_prompts_cb(void *arg, uint64_t token, int rc, struct blend_media_prompt *p);

/* Creates the service on cfg->loop (cfg borrowed; strings copied), creates the cache directory
 * and starts the espeak-ng version probe. Errors: BLEND_EINVAL bad config (a limit raised, words
 * per minute out of range, no loop or cache_dir, path too long); BLEND_EIO cache directory not
 * creatable; BLEND_ENOMEM. A missing espeak-ng is not an error here (text requests fail later). */
BLEND_MUST_USE int blend__prompts_create(const struct blend_prompts_config *cfg,
                                         struct blend_prompts **out);
/* Calls every pending callback with BLEND_ECLOSED (from inside this call), drops the memory
 * cache, kills running renders (their temporary files are removed). The caller then runs the
 * loop until it has no handles left; the service frees itself there. NULL is allowed. */
void blend__prompts_destroy(struct blend_prompts *ps);

/*
 * The audio of `text` spoken in `language` (see blend__prompts_voice). Markup is never
 * interpreted: "<speak>" is spoken as text. On 0 the callback will run exactly once, later, on
 * the loop. Errors (returned, no callback): BLEND_EINVAL unknown language, empty or blank text,
 * text longer than BLEND_PROMPTS_TEXT_BYTES_MAX or not UTF-8; BLEND_ELIMIT too many requests or
 * preparations; BLEND_ECLOSED after destroy; BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend__prompts_text(struct blend_prompts *ps, const char *language,
                                       const char *text, blend_prompts_cb *cb, void *arg,
                                       uint64_t token);
/*
 * The audio of a sound file at `path`, relative to files_dir; the loaded prompt is cached by
 * path, size and modification time (an edited file is loaded again). Same contract as
 * blend__prompts_text. Errors (returned): BLEND_EINVAL empty, absolute, containing a ".."
 * component or too long; BLEND_ELIMIT; BLEND_ECLOSED; BLEND_ENOMEM. A missing file is
 * BLEND_ENOENT through the callback.
 */
BLEND_MUST_USE int blend__prompts_file(struct blend_prompts *ps, const char *path,
                                       blend_prompts_cb *cb, void *arg, uint64_t token);
/* Starts preparing a text without a callback (flows pre-render their static texts when loaded,
 * so a caller never waits for espeak-ng). Nothing happens when it is cached or being prepared.
 * Errors as blend__prompts_text; a later failure is counted and logged only. */
BLEND_MUST_USE int blend__prompts_prefetch(struct blend_prompts *ps, const char *language,
                                           const char *text);
/* The espeak-ng voice a language tag maps to (case-insensitive, '_' taken as '-'), or NULL when
 * none: "en" and en-* -> en-us or the matching variant, "ko" -> ko, "zh"/"cmn"/"zh-CN" -> cmn,
 * "yue"/"zh-HK" -> yue. The string is static. */
const char *blend__prompts_voice(const char *language);
/* Counters (see the struct). */
void blend__prompts_stats(const struct blend_prompts *ps, struct blend_prompts_stats *out);

#endif
