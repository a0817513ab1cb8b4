/* Tests for the prompt service (api/prompts.h) with the real espeak-ng 1.51 and a real libuv
 * loop: every language renders speech of a plausible length, the disk cache serves a text again
 * without a process, concurrent requests share one render, a changed text is a new file, the LRU
 * evicts under a small budget, destroy answers everything in flight with BLEND_ECLOSED and leaks
 * nothing, and files load from files_dir with ".." refused. Failures of the renderer itself
 * (exit status, timeout, garbage output, argv) use small fake espeak-ng scripts. No sleeps: the
 * loop runs until the callbacks arrive. */
#include "api/prompts.h"
#include "base/alloc.h"

#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define KOREAN "안녕하세요, 상담원을 연결해 드리겠습니다"
#define MANDARIN "您好，欢迎致电客户服务中心"
#define CANTONESE "你好，我哋而家幫你轉駁客戶服務員"
#define ENGLISH "Thank you for calling. An agent will be with you shortly."

struct answer {
    int called;
    int rc;
    uint64_t token;
    struct blend_media_prompt *p;
};

struct fixture {
    char dir[256];
    char cache[300];
    char files[300];
    uv_loop_t loop;
    struct blend_prompts *ps;
};

static void on_answer(void *arg, uint64_t token, int rc, struct blend_media_prompt *p)
{
    struct answer *a = arg;
    assert_int_equal(a->called, 0); /* exactly one answer per request */
    a->called = 1;
    a->rc = rc;
    a->token = token;
    a->p = p;
    assert_true((rc == 0) == (p != NULL));
}

static void run_until(uv_loop_t *loop, const struct answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!a[i].called) {
            int alive = uv_run(loop, UV_RUN_ONCE);
            /* Something must stay alive while an answer is due: otherwise it never comes. */
            assert_true(alive != 0 || a[i].called);
        }
    }
}

static void answers_free(struct answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        blend_media_prompt_free(a[i].p);
        a[i].p = NULL;
    }
}

static void fixture_open(struct fixture *f, struct blend_prompts_config *cfg)
{
    assert_int_equal(uv_loop_init(&f->loop), 0);
    cfg->loop = &f->loop;
    cfg->cache_dir = f->cache;
    cfg->files_dir = f->files;
    assert_int_equal(blend__prompts_create(cfg, &f->ps), 0);
}

static void fixture_close(struct fixture *f)
{
    blend__prompts_destroy(f->ps);
    f->ps = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/blend-prompts-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    snprintf(f->files, sizeof f->files, "%s/files", f->dir);
    assert_int_equal(mkdir(f->files, 0700), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    assert_int_equal(blend_alloc_live(), 0);
    return 0;
}

/* Files in dir whose name ends with suffix. */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), sl = strlen(suffix);
        if (len >= sl && strcmp(de->d_name + len - sl, suffix) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Loudest sample of the prompt: speech, not silence. */
static int peak(const struct blend_media_prompt *p)
{
    int max = 0;
    for (size_t i = 0; i < blend_media_prompt_frames(p); i++) {
        uint8_t g[BLEND_MEDIA_FRAME_BYTES];
        int16_t pcm[BLEND_MEDIA_FRAME_SAMPLES];
        assert_int_equal(blend_media_prompt_frame(p, i, BLEND_MEDIA_PCMU, g), 0);
        blend_media_decode(BLEND_MEDIA_PCMU, g, sizeof g, pcm);
        for (int k = 0; k < BLEND_MEDIA_FRAME_SAMPLES; k++) {
            int v = pcm[k] < 0 ? -pcm[k] : pcm[k];
            max = v > max ? v : max;
        }
    }
    return max;
}

/* A mono 16-bit PCM WAV of `ms` of a 440 Hz square wave at `rate_hz`. */
static void write_wav(const char *path, int rate_hz, int ms)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t n = (uint32_t)((int64_t)rate_hz * ms / 1000);
    uint32_t data = n * 2, riff = 36 + data, fmt = 16, rate = (uint32_t)rate_hz;
    uint32_t byte_rate = rate * 2;
    uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
    fwrite("RIFF", 1, 4, fp);
    fwrite(&riff, 4, 1, fp);
    fwrite("WAVEfmt ", 1, 8, fp);
    fwrite(&fmt, 4, 1, fp);
    fwrite(&pcm, 2, 1, fp);
    fwrite(&ch, 2, 1, fp);
    fwrite(&rate, 4, 1, fp);
    fwrite(&byte_rate, 4, 1, fp);
    fwrite(&align, 2, 1, fp);
    fwrite(&bits, 2, 1, fp);
    fwrite("data", 1, 4, fp);
    fwrite(&data, 4, 1, fp);
    for (uint32_t i = 0; i < n; i++) {
        int16_t s = ((i * 440 * 2 / rate) % 2) ? 8000 : -8000;
        fwrite(&s, 2, 1, fp);
    }
    assert_int_equal(fclose(fp), 0);
}

static void write_script(const char *path, const char *body)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp,
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'fake espeak 9.9'; exit 0; fi\n"
            "out=\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -w ]; then out=$2; fi; shift; done\n"
            "%s\n",
            body);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0700), 0);
}

/* ---- Tests ----------------------------------------------------------------------------------- */

static void voices_map(void **state)
{
    (void)state;
    assert_string_equal(blend__prompts_voice("en"), "en-us");
    assert_string_equal(blend__prompts_voice("en-US"), "en-us");
    assert_string_equal(blend__prompts_voice("EN_gb"), "en-gb");
    assert_string_equal(blend__prompts_voice("en-AU"), "en-gb");
    assert_string_equal(blend__prompts_voice("en-PH"), "en-us");
    assert_string_equal(blend__prompts_voice("ko"), "ko");
    assert_string_equal(blend__prompts_voice("ko-KR"), "ko");
    assert_string_equal(blend__prompts_voice("zh"), "cmn");
    assert_string_equal(blend__prompts_voice("cmn"), "cmn");
    assert_string_equal(blend__prompts_voice("zh-CN"), "cmn");
    assert_string_equal(blend__prompts_voice("yue"), "yue");
    assert_string_equal(blend__prompts_voice("zh-HK"), "yue");
    assert_null(blend__prompts_voice("fr"));
    assert_null(blend__prompts_voice(""));
    assert_null(blend__prompts_voice("en-"));
    assert_null(blend__prompts_voice("english"));
    assert_null(blend__prompts_voice("en-us-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_null(blend__prompts_voice(NULL));
}

static void bad_requests_refused(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer a = {0};
    char *long_text = malloc(BLEND_PROMPTS_TEXT_BYTES_MAX + 2);
    memset(long_text, 'a', BLEND_PROMPTS_TEXT_BYTES_MAX + 1);
    long_text[BLEND_PROMPTS_TEXT_BYTES_MAX + 1] = '\0';
    assert_int_equal(blend__prompts_text(f->ps, "fr", "Bonjour", on_answer, &a, 1), BLEND_EINVAL);
    assert_int_equal(blend__prompts_text(f->ps, "en", "", on_answer, &a, 1), BLEND_EINVAL);
    assert_int_equal(blend__prompts_text(f->ps, "en", " \t\n", on_answer, &a, 1), BLEND_EINVAL);
    assert_int_equal(blend__prompts_text(f->ps, "en", long_text, on_answer, &a, 1), BLEND_EINVAL);
    assert_int_equal(blend__prompts_text(f->ps, "en", "bad \xff\xfe utf-8", on_answer, &a, 1),
                     BLEND_EINVAL);
    assert_int_equal(blend__prompts_prefetch(f->ps, "xx", "Hello"), BLEND_EINVAL);
    long_text[BLEND_PROMPTS_TEXT_BYTES_MAX] = '\0'; /* exactly the maximum is accepted */
    assert_int_equal(blend__prompts_prefetch(f->ps, "en", long_text), 0);
    free(long_text);
    /* Bad configurations. */
    struct blend_prompts *ps;
    struct blend_prompts_config bad = {.loop = &f->loop, .cache_dir = f->cache};
    bad.renders_max = BLEND_PROMPTS_RENDERS_MAX + 1;
    assert_int_equal(blend__prompts_create(&bad, &ps), BLEND_EINVAL);
    bad.renders_max = 0;
    bad.words_per_minute = 20;
    assert_int_equal(blend__prompts_create(&bad, &ps), BLEND_EINVAL);
    bad.words_per_minute = 0;
    bad.cache_dir = "/proc/no/such/dir";
    assert_int_equal(blend__prompts_create(&bad, &ps), BLEND_EIO);
    fixture_close(f); /* the prefetch in flight is dropped */
    assert_int_equal(a.called, 0);
}

/* English, Korean, Mandarin and Cantonese render speech of a plausible length. */
static void languages_render(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {.words_per_minute = 150};
    fixture_open(f, &cfg);
    const char *lang[] = {"en", "ko", "zh", "zh-HK"};
    const char *text[] = {ENGLISH, KOREAN, MANDARIN, CANTONESE};
    struct answer a[4] = {{0}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(blend__prompts_text(f->ps, lang[i], text[i], on_answer, &a[i], 10 + i), 0);
        assert_int_equal(a[i].called, 0); /* never inside the call */
    }
    run_until(&f->loop, a, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].rc, 0);
        assert_int_equal(a[i].token, 10 + i);
        uint64_t ms = blend_media_prompt_duration_ms(a[i].p);
        print_message("%s: %llu ms, peak %d\n", lang[i], (unsigned long long)ms, peak(a[i].p));
        /* At 150 words per minute a ten-word sentence lasts seconds, not milliseconds. */
        assert_true(ms >= 1500 && ms <= 20000);
        assert_true(peak(a[i].p) > 2000);
    }
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 4);
    assert_int_equal(st.probes, 1);
    assert_int_equal(st.disk_hits, 0);
    assert_int_equal(st.cached, 4);
    assert_int_equal(count_files(f->cache, ".wav"), 4);
    assert_int_equal(count_files(f->cache, ".tmp"), 0);
    answers_free(a, 4);
    fixture_close(f);
}

/* A second service over the same cache directory loads the WAV without running espeak-ng; a
 * third request in the same service is a memory hit. */
static void disk_cache_hit(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer a = {0};
    assert_int_equal(blend__prompts_text(f->ps, "ko", KOREAN, on_answer, &a, 1), 0);
    run_until(&f->loop, &a, 1);
    assert_int_equal(a.rc, 0);
    uint64_t first_ms = blend_media_prompt_duration_ms(a.p);
    answers_free(&a, 1);
    fixture_close(f);

    fixture_open(f, &cfg);
    struct answer b[2] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "ko-KR", KOREAN, on_answer, &b[0], 2), 0);
    run_until(&f->loop, b, 1);
    assert_int_equal(b[0].rc, 0);
    assert_int_equal(blend_media_prompt_duration_ms(b[0].p), first_ms);
    assert_int_equal(blend__prompts_text(f->ps, "ko", KOREAN, on_answer, &b[1], 3), 0);
    assert_int_equal(b[1].called, 0);
    run_until(&f->loop, b + 1, 1);
    assert_ptr_equal(b[1].p, b[0].p); /* the same loaded prompt, shared */
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 0);
    assert_int_equal(st.disk_hits, 1);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(count_files(f->cache, ".wav"), 1);
    answers_free(b, 2);
    fixture_close(f);
}

/* A damaged cached file is rendered again and replaced. */
static void damaged_cache_rendered_again(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer a = {0};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &a, 1), 0);
    run_until(&f->loop, &a, 1);
    assert_int_equal(a.rc, 0);
    answers_free(&a, 1);
    fixture_close(f);

    DIR *d = opendir(f->cache);
    struct dirent *de;
    char path[600] = "";
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".wav")) {
            snprintf(path, sizeof path, "%s/%s", f->cache, de->d_name);
        }
    }
    closedir(d);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("damaged", fp);
    fclose(fp);

    fixture_open(f, &cfg);
    struct answer b = {0};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &b, 2), 0);
    run_until(&f->loop, &b, 1);
    assert_int_equal(b.rc, 0);
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.disk_hits, 0);
    assert_int_equal(st.renders, 1);
    answers_free(&b, 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 1000); /* replaced by the new render */
    assert_int_equal(count_files(f->cache, ".wav"), 1);
    fixture_close(f);
}

/* Two requests for one text while it renders: one process, both answered with the prompt. A
 * changed text is a new file. */
static void shared_render_and_new_text(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer a[3] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Please hold.", on_answer, &a[0], 1), 0);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Please hold.", on_answer, &a[1], 2), 0);
    run_until(&f->loop, a, 2);
    assert_int_equal(a[0].rc, 0);
    assert_int_equal(a[1].rc, 0);
    assert_ptr_equal(a[0].p, a[1].p);
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 1);
    assert_int_equal(st.joined, 1);
    assert_int_equal(count_files(f->cache, ".wav"), 1);

    assert_int_equal(blend__prompts_text(f->ps, "en", "Please hold on.", on_answer, &a[2], 3), 0);
    run_until(&f->loop, a + 2, 1);
    assert_int_equal(a[2].rc, 0);
    assert_ptr_not_equal(a[2].p, a[0].p);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 2);
    assert_int_equal(count_files(f->cache, ".wav"), 2);
    answers_free(a, 3);
    fixture_close(f);
}

/* renders_max 1: texts queue for the one slot and all complete. */
static void render_queue(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {.renders_max = 1};
    fixture_open(f, &cfg);
    struct answer a[3] = {{0}};
    const char *texts[] = {"One.", "Two.", "Three."};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(blend__prompts_text(f->ps, "en", texts[i], on_answer, &a[i], i), 0);
    }
    run_until(&f->loop, a, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].rc, 0);
    }
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 3);
    answers_free(a, 3);
    fixture_close(f);
}

static void missing_espeak(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {.espeak_path = "/nonexistent/espeak-ng"};
    fixture_open(f, &cfg);
    struct answer a[2] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hello.", on_answer, &a[0], 7), 0);
    run_until(&f->loop, a, 1);
    assert_int_equal(a[0].rc, BLEND_ENOENT);
    assert_int_equal(a[0].token, 7);
    /* Asked again: probed again (espeak-ng may have been installed since), still missing. */
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hello.", on_answer, &a[1], 8), 0);
    run_until(&f->loop, a + 1, 1);
    assert_int_equal(a[1].rc, BLEND_ENOENT);
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 0);
    assert_true(st.probes >= 2);
    assert_int_equal(st.failures, 2);
    fixture_close(f);
}

static int closed_calls;
static void on_closed(void *arg, uint64_t token, int rc, struct blend_media_prompt *p)
{
    on_answer(arg, token, rc, p);
    assert_int_equal(rc, BLEND_ECLOSED);
    closed_calls++;
}

/* Destroy answers everything in flight with BLEND_ECLOSED from inside the call: requests waiting
 * for the version probe, a running render, a queued one, a file stat, a ready answer not yet
 * delivered. Nothing leaks and no temporary file is left. */
static void destroy_in_flight(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {.renders_max = 1};
    fixture_open(f, &cfg);
    /* A first prompt in memory, so a memory hit is pending at destroy. */
    struct answer warm = {0};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Warm.", on_answer, &warm, 0), 0);
    run_until(&f->loop, &warm, 1);
    assert_int_equal(warm.rc, 0);
    answers_free(&warm, 1);

    struct answer a[5] = {{0}};
    closed_calls = 0;
    assert_int_equal(
        blend__prompts_text(f->ps, "en", "First long text to render, slowly.", on_closed, &a[0], 1),
        0);
    assert_int_equal(blend__prompts_text(f->ps, "ko", KOREAN, on_closed, &a[1], 2), 0);
    /* Run until the first render's process has started. */
    struct blend_prompts_stats st;
    do {
        assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
        blend__prompts_stats(f->ps, &st);
    } while (st.renders < 1);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Warm.", on_closed, &a[2], 3), 0);
    assert_int_equal(blend__prompts_file(f->ps, "nothing.wav", on_closed, &a[3], 4), 0);
    assert_int_equal(blend__prompts_text(f->ps, "yue", CANTONESE, on_closed, &a[4], 5), 0);
    blend__prompts_destroy(f->ps);
    assert_int_equal(closed_calls, 5); /* all answered inside destroy */
    f->ps = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(closed_calls, 5);
    assert_int_equal(count_files(f->cache, ".tmp"), 0);
    assert_int_equal(blend_alloc_live(), 0);
}

/* A budget below one prompt: the prompt is handed out, then dropped from memory; the next
 * request loads it from disk. A budget of one prompt keeps only the most recent. */
static void lru_eviction(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {.memory_bytes_max = 1000};
    fixture_open(f, &cfg);
    struct answer a[2] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &a[0], 1), 0);
    run_until(&f->loop, a, 1);
    assert_int_equal(a[0].rc, 0);
    assert_true(peak(a[0].p) > 2000); /* still ours to play after the eviction */
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.memory_bytes, 0);
    size_t bytes = blend_media_prompt_frames(a[0].p) * BLEND_MEDIA_FRAME_BYTES * 2;
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &a[1], 2), 0);
    run_until(&f->loop, a + 1, 1);
    assert_int_equal(a[1].rc, 0);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 1);
    assert_int_equal(st.disk_hits, 1);
    answers_free(a, 2);
    fixture_close(f);

    /* Room for "Goodbye." and a bit: loading "Hello there." evicts the older one. */
    cfg.memory_bytes_max = bytes + bytes / 2;
    fixture_open(f, &cfg);
    struct answer b[4] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &b[0], 1), 0);
    run_until(&f->loop, b, 1);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hello there.", on_answer, &b[1], 2), 0);
    run_until(&f->loop, b + 1, 1);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hello there.", on_answer, &b[2], 3), 0);
    run_until(&f->loop, b + 2, 1);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.cached, 1);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Goodbye.", on_answer, &b[3], 4), 0);
    run_until(&f->loop, b + 3, 1);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.disk_hits, 2); /* Goodbye twice from disk */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(b[i].rc, 0);
    }
    answers_free(b, 4);
    fixture_close(f);
}

static void prefetch_then_hit(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    assert_int_equal(blend__prompts_prefetch(f->ps, "zh-CN", MANDARIN), 0);
    assert_int_equal(blend__prompts_prefetch(f->ps, "cmn", MANDARIN), 0); /* already under way */
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the service is idle again when prepared */
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.renders, 1);
    assert_int_equal(st.cached, 1);
    struct answer a = {0};
    assert_int_equal(blend__prompts_text(f->ps, "zh", MANDARIN, on_answer, &a, 1), 0);
    run_until(&f->loop, &a, 1);
    assert_int_equal(a.rc, 0);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.renders, 1);
    answers_free(&a, 1);
    fixture_close(f);
}

static void file_prompts(void **state)
{
    struct fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/greeting.wav", f->files);
    write_wav(path, 16000, 500);
    snprintf(path, sizeof path, "%s/..dots.wav", f->files);
    write_wav(path, 8000, 200);
    snprintf(path, sizeof path, "%s/sub", f->files);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/notes.txt", f->files);
    FILE *fp = fopen(path, "w");
    fputs("not a sound file\n", fp);
    fclose(fp);

    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer x = {0};
    assert_int_equal(blend__prompts_file(f->ps, "../greeting.wav", on_answer, &x, 0), BLEND_EINVAL);
    assert_int_equal(blend__prompts_file(f->ps, "sub/../../etc/passwd", on_answer, &x, 0),
                     BLEND_EINVAL);
    assert_int_equal(blend__prompts_file(f->ps, "sub/..", on_answer, &x, 0), BLEND_EINVAL);
    assert_int_equal(blend__prompts_file(f->ps, "/etc/passwd", on_answer, &x, 0), BLEND_EINVAL);
    assert_int_equal(blend__prompts_file(f->ps, "", on_answer, &x, 0), BLEND_EINVAL);

    struct answer a[6] = {{0}};
    assert_int_equal(blend__prompts_file(f->ps, "greeting.wav", on_answer, &a[0], 1), 0);
    assert_int_equal(blend__prompts_file(f->ps, "..dots.wav", on_answer, &a[1], 2), 0);
    assert_int_equal(blend__prompts_file(f->ps, "missing.wav", on_answer, &a[2], 3), 0);
    assert_int_equal(blend__prompts_file(f->ps, "notes.txt", on_answer, &a[3], 4), 0);
    assert_int_equal(blend__prompts_file(f->ps, "sub", on_answer, &a[4], 5), 0);
    run_until(&f->loop, a, 5);
    assert_int_equal(x.called, 0);
    assert_int_equal(a[0].rc, 0);
    assert_int_equal(blend_media_prompt_duration_ms(a[0].p), 500);
    assert_int_equal(a[1].rc, 0);
    assert_int_equal(blend_media_prompt_duration_ms(a[1].p), 200);
    assert_int_equal(a[2].rc, BLEND_ENOENT);
    assert_int_equal(a[3].rc, BLEND_EPARSE);
    assert_int_equal(a[4].rc, BLEND_EIO); /* a directory */
    struct blend_prompts_stats st;
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.file_loads, 2);

    /* The file is edited (another length): loaded again, the new audio served. */
    snprintf(path, sizeof path, "%s/greeting.wav", f->files);
    write_wav(path, 16000, 700);
    assert_int_equal(blend__prompts_file(f->ps, "greeting.wav", on_answer, &a[5], 6), 0);
    run_until(&f->loop, a + 5, 1);
    assert_int_equal(a[5].rc, 0);
    assert_int_equal(blend_media_prompt_duration_ms(a[5].p), 700);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.file_loads, 3);
    answers_free(a, 6);

    struct answer c = {0};
    assert_int_equal(blend__prompts_file(f->ps, "greeting.wav", on_answer, &c, 7), 0);
    run_until(&f->loop, &c, 1);
    blend__prompts_stats(f->ps, &st);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.file_loads, 3);
    answers_free(&c, 1);
    fixture_close(f);
}

/* The renderer fails: a non-zero exit, a hang killed at the timeout, and a WAV that is not one;
 * nothing is left in the cache, and the argv carries the text verbatim after "--" with no -m. */
static void renderer_failures(void **state)
{
    struct fixture *f = *state;
    char fail[400], hang[400], junk[400], good[400], args[400], wav[400];
    snprintf(fail, sizeof fail, "%s/fail.sh", f->dir);
    snprintf(hang, sizeof hang, "%s/hang.sh", f->dir);
    snprintf(junk, sizeof junk, "%s/junk.sh", f->dir);
    snprintf(good, sizeof good, "%s/good.sh", f->dir);
    snprintf(args, sizeof args, "%s/args.txt", f->dir);
    snprintf(wav, sizeof wav, "%s/fixture.wav", f->dir);
    write_wav(wav, 22050, 300);
    write_script(fail, "echo failing >&2; exit 1");
    write_script(hang, "exec sleep 600");
    write_script(junk, "echo garbage > \"$out\"; exit 0");
    /* good.sh records its argv (one per line) before writing a real WAV. */
    FILE *fp = fopen(good, "w");
    fprintf(fp,
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'fake espeak 9.9'; exit 0; fi\n"
            "printf '%%s\\n' \"$@\" > '%s'\nout=\n"
            "while [ $# -gt 0 ]; do if [ \"$1\" = -w ]; then out=$2; fi; shift; done\n"
            "cp '%s' \"$out\"\n",
            args, wav);
    fclose(fp);
    assert_int_equal(chmod(good, 0700), 0);

    const char *scripts[] = {fail, hang, junk};
    const int want[] = {BLEND_EIO, BLEND_EIO, BLEND_EPARSE};
    for (int i = 0; i < 3; i++) {
        struct blend_prompts_config cfg = {.espeak_path = scripts[i], .render_timeout_ms = 300};
        fixture_open(f, &cfg);
        struct answer a = {0};
        assert_int_equal(blend__prompts_text(f->ps, "en", "Hello.", on_answer, &a, 1), 0);
        run_until(&f->loop, &a, 1);
        assert_int_equal(a.rc, want[i]);
        struct blend_prompts_stats st;
        blend__prompts_stats(f->ps, &st);
        assert_int_equal(st.renders, 1);
        assert_int_equal(st.failures, 1);
        assert_int_equal(count_files(f->cache, ".wav"), 0);
        assert_int_equal(count_files(f->cache, ".tmp"), 0);
        fixture_close(f);
    }

    struct blend_prompts_config cfg = {.espeak_path = good, .words_per_minute = 150};
    fixture_open(f, &cfg);
    struct answer a = {0};
    const char *ssml = "-x <speak>Hi</speak>";
    assert_int_equal(blend__prompts_text(f->ps, "en-GB", ssml, on_answer, &a, 1), 0);
    run_until(&f->loop, &a, 1);
    assert_int_equal(a.rc, 0);
    assert_int_equal(blend_media_prompt_duration_ms(a.p), 300);
    answers_free(&a, 1);
    fixture_close(f);
    fp = fopen(args, "r");
    assert_non_null(fp);
    char got[1024] = {0};
    size_t n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    got[n] = '\0';
    /* -v en-gb -s 150 -w <tmp in the cache dir> -- <text> */
    char want_head[64];
    snprintf(want_head, sizeof want_head, "-v\nen-gb\n-s\n150\n-w\n");
    assert_memory_equal(got, want_head, strlen(want_head));
    assert_non_null(strstr(got, f->cache));
    assert_non_null(strstr(got, ".tmp\n--\n-x <speak>Hi</speak>\n"));
    assert_null(strstr(got, "\n-m\n"));
    assert_int_equal(count_files(f->cache, ".wav"), 1);
}

/* A callback may destroy the service; the other answers then get BLEND_ECLOSED. */
static struct blend_prompts *destroy_target;
static void on_answer_destroy(void *arg, uint64_t token, int rc, struct blend_media_prompt *p)
{
    on_answer(arg, token, rc, p);
    blend__prompts_destroy(destroy_target);
}

static void destroy_from_callback(void **state)
{
    struct fixture *f = *state;
    struct blend_prompts_config cfg = {0};
    fixture_open(f, &cfg);
    struct answer a[3] = {{0}};
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hi.", on_answer, &a[0], 1), 0);
    run_until(&f->loop, a, 1);
    destroy_target = f->ps;
    /* Two memory hits queued: the first answer's callback destroys; the second is closed. */
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hi.", on_answer_destroy, &a[1], 2), 0);
    assert_int_equal(blend__prompts_text(f->ps, "en", "Hi.", on_answer, &a[2], 3), 0);
    run_until(&f->loop, a + 1, 1);
    assert_int_equal(a[1].rc, 0);
    assert_int_equal(a[2].called, 1);
    assert_int_equal(a[2].rc, BLEND_ECLOSED);
    answers_free(a, 3);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(voices_map),
        cmocka_unit_test_setup_teardown(bad_requests_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(languages_render, setup, teardown),
        cmocka_unit_test_setup_teardown(disk_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_cache_rendered_again, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_render_and_new_text, setup, teardown),
        cmocka_unit_test_setup_teardown(render_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_espeak, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(prefetch_then_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(file_prompts, setup, teardown),
        cmocka_unit_test_setup_teardown(renderer_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_from_callback, setup, teardown),
    };
    const char *only = getenv("ONLY");
    if (only) {
        cmocka_set_test_filter(only);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
