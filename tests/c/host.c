/*
 * A minimal C host for the openclaw-dingtalk skill, using only include/openclaw_skill.h:
 * dlopen -> openclaw_skill_vtable_v2 -> check_manifest -> init -> handle_event ->
 * next_chunk until the terminal chunk -> info -> shutdown -> skill_free, while a second thread
 * pulls the plugin's log records with next_log.
 *
 * usage: host <plugin.so> <manifest.yaml> <event.json>
 * Prints one line per chunk ("chunk <KIND> <text>"), the first INFO log line, the count of log
 * records pulled, and "done"; exits non-zero on any contract violation.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openclaw_skill.h"

static const OcSkillVTable *vt;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long log_records = 0;
static char first_info[512];
static volatile int stop_logs = 0;

/* The log thread: the only caller of next_log; a record's strings live until the next call. */
static void *drain_logs(void *arg) {
    (void)arg;
    while (!stop_logs) {
        OcLogRecord rec;
        if (vt->next_log(100, &rec) != OC_STATUS_OK) continue;
        pthread_mutex_lock(&log_lock);
        log_records++;
        if (rec.level == OC_LOG_LEVEL_INFO && !first_info[0])
            snprintf(first_info, sizeof first_info, "%.*s", (int)rec.message.len, (const char *)rec.message.ptr);
        pthread_mutex_unlock(&log_lock);
    }
    return NULL;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static OcStr str(const char *s, size_t len) { OcStr o = { (const uint8_t *)s, len }; return o; }

static const char *kind_name(OcChunkKind k) {
    switch (k) {
    case OC_CHUNK_KIND_STARTED: return "STARTED";
    case OC_CHUNK_KIND_DELTA: return "DELTA";
    case OC_CHUNK_KIND_REASONING: return "REASONING";
    case OC_CHUNK_KIND_FINISHED: return "FINISHED";
    case OC_CHUNK_KIND_FAILED: return "FAILED";
    case OC_CHUNK_KIND_REPLIED: return "REPLIED";
    case OC_CHUNK_KIND_SKIPPED: return "SKIPPED";
    default: return "?"; /* a kind from a newer plugin: data, not an error */
    }
}

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); return 1; } while (0)

int main(int argc, char **argv) {
    if (argc != 4) FAIL("usage: host <plugin.so> <manifest.yaml> <event.json>");
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) FAIL("dlopen: %s", dlerror());
    const OcSkillVTable *(*entry)(void) = (const OcSkillVTable *(*)(void))dlsym(lib, "openclaw_skill_vtable_v2");
    if (!entry) FAIL("dlsym: %s", dlerror());
    vt = entry();
    if (vt->abi_version != OC_SKILL_ABI_VERSION) FAIL("abi_version %u", vt->abi_version);
    if (vt->struct_size < sizeof(OcSkillVTable)) FAIL("struct_size %u", vt->struct_size);
    printf("plugin %.*s %.*s\n", (int)vt->plugin_name.len, (const char *)vt->plugin_name.ptr,
           (int)vt->plugin_version.len, (const char *)vt->plugin_version.ptr);

    size_t yaml_len = 0, event_len = 0;
    char *yaml = read_file(argv[2], &yaml_len);
    char *event = read_file(argv[3], &event_len);
    if (!yaml || !event) FAIL("cannot read inputs");
    OcStr path = str(argv[2], strlen(argv[2]));
    if (vt->set_log_level(OC_LOG_LEVEL_INFO) != OC_STATUS_OK) FAIL("set_log_level failed");
    pthread_t log_thread;
    if (pthread_create(&log_thread, NULL, drain_logs, NULL) != 0) FAIL("pthread_create");

    /* A bad manifest is refused with a message naming the key. */
    const char *bad = "name: x\n";
    OcOwnedStr err = { NULL, 0 };
    OcOwnedStr summary = { NULL, 0 };
    OcStatus st = vt->check_manifest(str(bad, strlen(bad)), path, &summary, &err);
    if (st != OC_STATUS_CONFIG) FAIL("bad manifest status %u", st);
    printf("check_manifest error: %.*s\n", (int)err.len, (const char *)err.ptr);
    vt->string_free(err);
    vt->string_free(summary);

    OcSkill *skill = NULL;
    OcOwnedStr init_err = { NULL, 0 };
    st = vt->init(str(yaml, yaml_len), path, &skill, &init_err);
    if (st != OC_STATUS_OK) FAIL("init failed (%u): %.*s", st, (int)init_err.len, (const char *)init_err.ptr);

    OcChunkStream *stream = NULL;
    OcOwnedStr ev_err = { NULL, 0 };
    st = vt->handle_event(skill, str(event, event_len), &stream, &ev_err);
    if (st != OC_STATUS_OK) FAIL("handle_event failed (%u): %.*s", st, (int)ev_err.len, (const char *)ev_err.ptr);

    int chunks = 0, timeouts = 0, terminal = 0;
    for (;;) {
        OcChunk chunk;
        st = vt->next_chunk(stream, 1000, &chunk);
        if (st == OC_STATUS_TIMEOUT) { if (++timeouts > 60) FAIL("no chunk for 60 s"); continue; }
        if (st == OC_STATUS_END) break;
        if (st != OC_STATUS_OK) FAIL("next_chunk status %u", st);
        if (terminal) FAIL("chunk after the terminal chunk");
        chunks++;
        printf("chunk %s %.*s\n", kind_name(chunk.kind), (int)chunk.text.len, (const char *)chunk.text.ptr);
        if (chunk.kind == OC_CHUNK_KIND_FINISHED || chunk.kind == OC_CHUNK_KIND_FAILED ||
            chunk.kind == OC_CHUNK_KIND_REPLIED || chunk.kind == OC_CHUNK_KIND_SKIPPED)
            terminal = 1;
    }
    if (!terminal) FAIL("stream ended without a terminal chunk");
    vt->stream_free(stream);

    OcOwnedStr info = { NULL, 0 };
    if (vt->info(skill, &info) != OC_STATUS_OK) FAIL("info failed");
    printf("info %.*s\n", (int)info.len, (const char *)info.ptr);
    vt->string_free(info);

    if (vt->shutdown(skill, 5000) != OC_STATUS_OK) FAIL("shutdown failed");
    /* After shutdown new events are refused. */
    OcChunkStream *late = NULL;
    OcOwnedStr late_err = { NULL, 0 };
    st = vt->handle_event(skill, str(event, event_len), &late, &late_err);
    if (st != OC_STATUS_SHUTTING_DOWN) FAIL("handle_event after shutdown: %u", st);
    vt->string_free(late_err);
    vt->skill_free(skill);

    stop_logs = 1;
    pthread_join(log_thread, NULL);
    printf("first info log %s\n", first_info);
    printf("log records %lu\n", log_records);
    printf("chunks %d\ndone\n", chunks);
    free(yaml);
    free(event);
    /* The library is never unloaded (no dlclose): plugin threads outlive this point. */
    return 0;
}
