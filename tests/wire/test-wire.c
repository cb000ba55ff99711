/* common/wire/wire.c: the checks of what a server sends (Welcome and its
 * Config) and how bytes that are not the protocol are shown. */
#include <math.h>

#include "base/units.h"
#include "task.h"
#include "wire/wire.h"

/* A Config as mlfqd sends it: linear cost, mlfq, time_scale 1. */
typedef struct {
  mlfq_wire_config_t wc;
  mlfq_cost_t cost;
} good_t;

static void good_init(good_t *g) {
  mlfq_limits_t lim = {1, 1000, 1u << 20, 1u << 20, 65536, 500};
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t p;
  char err[256];

  mlfq_sched_config_init(&cfg);
  ASSERT_OK(mlfq_cost_linear(&g->cost, 0, 0.09, 5.5));
  ASSERT_OK(mlfq_sched_resolve(&p, &cfg, &g->cost, err, sizeof(err)));
  ASSERT_OK(mlfq_wire_config_init(&g->wc, &cfg, &p, &g->cost, &lim));
}

static void good_free(good_t *g) {
  mlfq_wire_config_free(&g->wc);
  mlfq_cost_free(&g->cost);
}

/* Expects c to be refused with a message that contains want. */
static void refused(const Mlfq__Config *c, const char *want) {
  char err[256] = "";

  ASSERT_EQ(mlfq_wire_config_check(c, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, want);
}

TEST(wire, config_check_names_the_field_and_value) {
  good_t g;
  Mlfq__Config *c = &g.wc.config;
  char err[256];

  good_init(&g);
  ASSERT_OK(mlfq_wire_config_check(c, err, sizeof(err)));
  c->time_scale = INFINITY;
  refused(c, "config.time_scale inf is not in [1e-06, 1e+06]");
  c->time_scale = NAN;
  refused(c, "config.time_scale nan");
  c->time_scale = 0;
  refused(c, "config.time_scale 0 is not in");
  c->time_scale = 1e6; /* the largest is valid */
  ASSERT_OK(mlfq_wire_config_check(c, err, sizeof(err)));
  c->time_scale = 1;

  c->queues = 0;
  refused(c, "config.queues 0 is not in [1, 64]");
  c->queues = 4;
  c->n_quanta_ns = 3;
  refused(c, "config.quanta_ns count 3 is not in [4, 4]");
  c->n_quanta_ns = 4;
  c->workers = 0;
  refused(c, "config.workers 0");
  c->workers = 1;
  c->max_frame_bytes = 0;
  refused(c, "config.max_frame_bytes 0");
  c->max_frame_bytes = 65536;
  c->starve_limit_ns = UINT64_MAX;
  refused(c, "config.starve_limit_ns 18446744073709551615");
  c->starve_limit_ns = 0;
  c->preempt = "";
  refused(c, "config.preempt is missing");
  c->preempt = "iteration";
  c->policy = NULL;
  refused(c, "config.policy is missing");
  c->policy = "mlfq";
  c->cost->decode_ms = -1;
  refused(c, "config.cost.decode_ms -1");
  c->cost->decode_ms = NAN;
  refused(c, "config.cost.decode_ms nan");
  c->cost->decode_ms = 5.5;
  c->cost->kind = NULL;
  refused(c, "config.cost.kind is missing");
  c->cost->kind = "profile"; /* a profile without rows */
  refused(c, "config.cost.rows count 0 is not in [1, 4096]");
  c->cost->kind = "linear";
  ASSERT_OK(mlfq_wire_config_check(c, err, sizeof(err)));
  good_free(&g);
}

TEST(wire, config_check_refuses_bad_profile_rows) {
  Mlfq__ProfileRow r[2] = {MLFQ__PROFILE_ROW__INIT, MLFQ__PROFILE_ROW__INIT};
  Mlfq__ProfileRow *rows[2] = {&r[0], &r[1]};
  good_t g;
  Mlfq__Config *c = &g.wc.config;
  char err[256];

  good_init(&g);
  c->cost->kind = "profile";
  c->cost->n_rows = 2;
  c->cost->rows = rows;
  r[0].input_length = 10;
  r[0].decode_ms = 1;
  r[1].input_length = 20;
  r[1].decode_ms = 2;
  ASSERT_OK(mlfq_wire_config_check(c, err, sizeof(err)));
  r[1].input_length = 10;
  refused(c, "config.cost.rows[1].input_length 10 is not above");
  r[1].input_length = 20;
  r[1].prefill_ms = INFINITY;
  refused(c, "config.cost.rows[1] has prefill_ms inf");
  c->cost->n_rows = 0;
  c->cost->rows = NULL;
  good_free(&g);
}

TEST(wire, welcome_check) {
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  good_t g;
  char err[256];

  good_init(&g);
  ASSERT_EQ(mlfq_wire_welcome_check(&w, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "protocol version 0");
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  ASSERT_EQ(mlfq_wire_welcome_check(&w, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "Welcome without a config");
  w.config = &g.wc.config;
  ASSERT_OK(mlfq_wire_welcome_check(&w, err, sizeof(err)));
  g.wc.config.time_scale = -1;
  ASSERT_EQ(mlfq_wire_welcome_check(&w, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "config.time_scale -1");
  good_free(&g);
}

TEST(wire, show_bytes) {
  static const uint8_t http[] = "HTTP/1.1 400 Bad Request\r\nContent-Length";
  static const uint8_t bin[] = {0, 0, 0, 8, 0xff, '"', '\\'};
  char out[128], tiny[12];

  ASSERT_STR_EQ(mlfq_wire_show_bytes(http, sizeof(http) - 1, out, sizeof(out)),
                "\"HTTP/1.1 400 Bad Request\\r\\nConten\"...");
  ASSERT_STR_EQ(mlfq_wire_show_bytes(bin, sizeof(bin), out, sizeof(out)),
                "\"\\x00\\x00\\x00\\x08\\xff\\x22\\x5c\"");
  ASSERT_STR_EQ(mlfq_wire_show_bytes(bin, 0, out, sizeof(out)), "\"\"");
  mlfq_wire_show_bytes(http, sizeof(http) - 1, tiny, sizeof(tiny));
  ASSERT(strlen(tiny) < sizeof(tiny));
}

/* Strings a server fills in for people to read are checked for length and
 * control bytes only: the base name of mlfqd's --profile is any file name,
 * UTF-8 included ("profil-été.csv" was refused as not printable, and every
 * client took such a server for one that is not mlfqd protocol). */
TEST(wire, informative_strings_take_any_byte_but_control_ones) {
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  char err[256], long_name[300];
  good_t g;

  good_init(&g);
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  w.config = &g.wc.config;
  g.wc.config.cost->source = "profil-\xc3\xa9t\xc3\xa9.csv";
  w.server_id = "mlfqd-\xe2\x80\x94-1";
  ASSERT_OK(mlfq_wire_welcome_check(&w, err, sizeof(err)));
  g.wc.config.cost->source = "\xff\x80"; /* not UTF-8: still a name */
  ASSERT_OK(mlfq_wire_welcome_check(&w, err, sizeof(err)));

  g.wc.config.cost->source = "a\nb.csv";
  refused(&g.wc.config, "config.cost.source has the control byte \\x0a at 1");
  g.wc.config.cost->source = "\x7f";
  refused(&g.wc.config, "config.cost.source has the control byte \\x7f at 0");
  memset(long_name, 'x', 256);
  long_name[256] = '\0';
  g.wc.config.cost->source = long_name;
  refused(&g.wc.config, "config.cost.source is longer than 255 bytes");
  long_name[255] = '\0';
  ASSERT_OK(mlfq_wire_config_check(&g.wc.config, err, sizeof(err)));
  g.wc.config.cost->source = "linear";

  w.server_id = "evil\x1b[2J";
  ASSERT_EQ(mlfq_wire_welcome_check(&w, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "Welcome.server_id has the control byte \\x1b at 4");
  good_free(&g);
}

TEST(wire, msg_id) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Accepted a = MLFQ__ACCEPTED__INIT;
  Mlfq__Token t = MLFQ__TOKEN__INIT;
  Mlfq__Done d = MLFQ__DONE__INIT;
  Mlfq__Error e = MLFQ__ERROR__INIT;
  Mlfq__StatsReply s = MLFQ__STATS_REPLY__INIT;

  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), 0); /* an unknown kind */
  a.id = 1;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ACCEPTED;
  m.accepted = &a;
  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), 1);
  t.id = 2;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
  m.token = &t;
  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), 2);
  d.id = UINT64_MAX;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
  m.done = &d;
  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), UINT64_MAX);
  e.id = 4;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ERROR;
  m.error = &e;
  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), 4);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  ASSERT_EQ_U64(mlfq_wire_msg_id(&m), 0);
}

/* Names of kinds this build does not know pass the check (a newer server
 * may send them; they were refused, and with them the server), and
 * mlfq_wire_config_parse, which must interpret them, says which. */
TEST(wire, unknown_kinds_pass_the_check_not_the_parse) {
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];
  good_t g;
  Mlfq__Config *c = &g.wc.config;

  good_init(&g);
  c->preempt = "sometimes";
  c->on_full = "evict-lru";
  c->cost->kind = "neural";
  ASSERT_OK(mlfq_wire_config_check(c, err, sizeof(err)));
  ASSERT_EQ(mlfq_wire_config_parse(c, &cfg, &cost, NULL, err, sizeof(err)),
            MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "config.preempt 'sometimes' is not one this build knows "
                     "(iteration, quantum)");
  c->preempt = "quantum";
  ASSERT_EQ(mlfq_wire_config_parse(c, &cfg, &cost, NULL, err, sizeof(err)),
            MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "config.on_full 'evict-lru' is not one this build");
  c->on_full = "swap";
  ASSERT_EQ(mlfq_wire_config_parse(c, &cfg, &cost, NULL, err, sizeof(err)),
            MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "config.cost.kind 'neural' is not one this build");
  /* What protects a client still holds for them. */
  c->on_full = "swap\x1b";
  refused(c, "config.on_full has the control byte \\x1b at 4");
  c->on_full = "swap";
  c->cost->decode_ms = INFINITY;
  refused(c, "config.cost.decode_ms inf");
  c->cost->decode_ms = 5.5;
  c->cost->kind = "linear";
  good_free(&g);
}
