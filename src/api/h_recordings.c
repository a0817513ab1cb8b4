/*
 * Call recordings through the API: recording control on a connected phone call (start, pause
 * and resume around payment card capture, stop), and the audio of a finished recording, read
 * from the data directory and audited like every read of personal data. The rows themselves
 * (list, get) go through the generic resource handlers; the calls adapter writes them.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>

/* Largest recording served in one answer, read whole into memory (about 4.6 hours of 8 kHz
 * stereo 16-bit audio); longer files need streaming, which this handler does not do. */
#define RECORDING_AUDIO_BYTES_MAX (512l * 1024 * 1024)

int blend__h_interaction_recording(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *body;
    struct blend_http_body_error berr;
    if (id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *action = NULL;
    int ok = json_unpack(body, "{s:s !}", "action", &action) == 0 &&
             (strcmp(action, "start") == 0 || strcmp(action, "pause") == 0 ||
              strcmp(action, "resume") == 0 || strcmp(action, "stop") == 0);
    if (!ok) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"action\": \"start\" | \"pause\" | \"resume\" | "
                                 "\"stop\"}",
                                 json_pack("[{s:s, s:s}]", "path", "action", "message",
                                           "one of start, pause, resume, stop"));
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_contact_view cv;
    if (blend__connected_for(app, req, id, &cv) != 0) {
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_record(app->calls, id, action);
    json_t *answer = json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id, "recording",
                               action);
    json_decref(body); /* action points into body */
    if (rc == BLEND_ENOENT) {
        json_decref(answer);
        blend_http_respond_error(req, 409, "conflict", "only a phone call can be recorded", NULL);
        return BLEND_HTTP_DONE;
    }
    if (rc) {
        json_decref(answer);
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    /* The telephony thread applies it in order; a refusal there (already recording, nothing
     * to pause) is logged and a recording's row appears when it is finalised. */
    blend_http_respond_json(req, 202, answer);
    return BLEND_HTTP_DONE;
}

/* GET /api/v1/calls: the calls in progress (the wallboard's calls panel). */
int blend__h_calls_list(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    blend_http_respond_json(req, 200,
                            json_pack("{s:o}", "items", blend__calls_list_json(app->calls)));
    return BLEND_HTTP_DONE;
}

/* POST /api/v1/interactions/{id}/hold {"hold": true | false}: the agent desktop's hold button
 * on a connected phone call (the customer hears music on hold meanwhile). */
int blend__h_interaction_hold(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *body;
    struct blend_http_body_error berr;
    if (id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    int hold = 0;
    int ok = json_unpack(body, "{s:b !}", "hold", &hold) == 0;
    json_decref(body);
    if (!ok) {
        blend_http_respond_error(req, 422, "validation_failed", "expected {\"hold\": true | false}",
                                 json_pack("[{s:s, s:s}]", "path", "hold", "message",
                                           "required: true or false"));
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_contact_view cv;
    if (blend__connected_for(app, req, id, &cv) != 0) {
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_hold(app->calls, id, hold);
    if (rc == BLEND_ENOENT) {
        blend_http_respond_error(req, 409, "conflict", "only a phone call with its agent can be held",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    if (rc) {
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    /* The telephony thread applies it; call.held / call.resumed follow. */
    blend_http_respond_json(req, 202,
                            json_pack("{s:I, s:b}", "interaction_id", (json_int_t)id, "hold", hold));
    return BLEND_HTTP_DONE;
}

int blend__h_recording_audio(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *doc;
    if (id <= 0 || blend_store_get(app->store, &blend_res_recordings, id, 0, &doc) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such recording", NULL);
        return BLEND_HTTP_DONE;
    }
    const char *file = json_string_value(json_object_get(doc, "file"));
    char path[4400];
    if (!file || strchr(file, '/') || !app->calls) {
        json_decref(doc);
        blend_http_respond_error(req, 404, "not_found", "the recording's audio is not here",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    snprintf(path, sizeof path, "%s/%s", blend__calls_recordings_dir(app->calls), file);
    json_decref(doc);
    FILE *f = fopen(path, "rb");
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        len = ftell(f);
        rewind(f);
    }
    if (!f || len < 0 || len > RECORDING_AUDIO_BYTES_MAX) {
        if (f) {
            fclose(f);
        }
        blend_http_respond_error(req, 404, "not_found", "the recording's audio is not here",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    char *data = blend_malloc((size_t)len + 1);
    size_t got = data ? fread(data, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!data || got != (size_t)len) {
        blend_free(data);
        blend_http_respond_error(req, 503, "unavailable", "cannot read the recording", NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *detail = json_pack("{s:s, s:I}", "route", blend_http_req_path(req), "bytes",
                               (json_int_t)len);
    if (blend_store_audit_read(app->store, p->user_id, p->username, p->source, "recordings", id,
                               detail) != 0) {
        BLEND_LOG_WARN("api", "audit of recording %lld's download not recorded", (long long)id);
    }
    json_decref(detail);
    blend_http_respond_take(req, 200, "audio/wav", data, (size_t)len);
    return BLEND_HTTP_DONE;
}
