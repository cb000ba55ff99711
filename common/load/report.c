#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "load/report.h"

static void put_ms(FILE *f, uint64_t ns) {
  char buf[MLFQ_MS_BUFSIZE];

  if (ns != MLFQ_TIME_NONE)
    fwrite(buf, 1, mlfq_ms_format(ns, buf), f);
}

int mlfq_report_jobs_csv(FILE *f, const mlfq_outcome_t *o, size_t n,
                         int flags) {
  size_t i;

  fputs("id,arrival_ms,input_length,output_length,first_token_ms,finish_ms,"
        "jct_ms",
        f);
  if (flags & MLFQ_REPORT_STATUS)
    fputs(",status", f);
  if (flags & MLFQ_REPORT_KV)
    fputs(",preemptions,swapped_tokens", f);
  fputs(flags & MLFQ_REPORT_REPLICA ? ",replica\n" : "\n", f);
  for (i = 0; i < n; i++) {
    const mlfq_outcome_t *r = &o[i];
    fprintf(f, "%zu,", i);
    put_ms(f, r->arrival_ns);
    fprintf(f, ",%u,%u,", r->input_len, r->output_len);
    put_ms(f, r->first_token_ns);
    fputc(',', f);
    put_ms(f, r->finish_ns);
    fputc(',', f);
    if (r->finish_ns != MLFQ_TIME_NONE)
      put_ms(f, r->finish_ns - r->arrival_ns);
    if (flags & MLFQ_REPORT_STATUS)
      fprintf(f, ",%s", r->status ? r->status : "ok");
    if ((flags & MLFQ_REPORT_KV) && r->status == NULL)
      fprintf(f, ",%lu,%llu", (unsigned long)r->preemptions,
              (unsigned long long)r->swapped_tokens);
    else if (flags & MLFQ_REPORT_KV)
      fputs(",,", f);
    if ((flags & MLFQ_REPORT_REPLICA) && r->replica > 0)
      fprintf(f, ",%lu", (unsigned long)r->replica);
    else if (flags & MLFQ_REPORT_REPLICA)
      fputc(',', f);
    fputc('\n', f);
  }
  return ferror(f) ? -EIO : 0;
}

void mlfq_report_trace_header(FILE *f) { fputs("t_ms,job,token\n", f); }

/* Writes v in decimal at the end of buf; returns where it starts. */
static char *put_u64(char *end, uint64_t v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

void mlfq_report_trace_line(FILE *f, uint64_t t_ns, size_t job,
                            uint32_t token) {
  char line[MLFQ_MS_BUFSIZE + 48], num[24], *p;
  size_t len = mlfq_ms_format(t_ns, line);

  line[len++] = ',';
  p = put_u64(num + sizeof(num), job);
  memcpy(line + len, p, (size_t)(num + sizeof(num) - p));
  len += (size_t)(num + sizeof(num) - p);
  line[len++] = ',';
  p = put_u64(num + sizeof(num), token);
  memcpy(line + len, p, (size_t)(num + sizeof(num) - p));
  len += (size_t)(num + sizeof(num) - p);
  line[len++] = '\n';
  fwrite(line, 1, len, f);
}

char *mlfq_report_num(double v, char *buf) {
  char *dot, *end;

  if (!isfinite(v)) {
    strcpy(buf, v > 0 ? "inf" : "-");
    return buf;
  }
  snprintf(buf, 32, "%.2f", v);
  dot = strchr(buf, '.');
  if (dot != NULL) {
    end = buf + strlen(buf);
    while (end > dot + 1 && end[-1] == '0')
      *--end = '\0';
    if (end == dot + 1)
      *dot = '\0';
  }
  if (strcmp(buf, "-0") == 0)
    strcpy(buf, "0");
  return buf;
}

typedef struct {
  const char *name;
  size_t off;      /* of a double in mlfq_summary_t, or of an mlfq_stat_t */
  size_t stat_off; /* within the mlfq_stat_t, or SIZE_MAX */
} row_t;

#define SUM(field) offsetof(mlfq_summary_t, field)
#define STAT(field) offsetof(mlfq_stat_t, field)

static const row_t table_rows[] = {
    {"makespan (ms)", SUM(makespan_ms), SIZE_MAX},
    {"throughput (req/s)", SUM(req_per_s), SIZE_MAX},
    {"throughput (tok/s)", SUM(tok_per_s), SIZE_MAX},
    {"JCT mean (ms)", SUM(jct), STAT(mean)},
    {"JCT p50 (ms)", SUM(jct), STAT(p50)},
    {"JCT p90 (ms)", SUM(jct), STAT(p90)},
    {"JCT p99 (ms)", SUM(jct), STAT(p99)},
    {"JCT max (ms)", SUM(jct), STAT(max)},
    {"TTFT mean (ms)", SUM(ttft), STAT(mean)},
    {"TTFT p50 (ms)", SUM(ttft), STAT(p50)},
    {"TTFT p90 (ms)", SUM(ttft), STAT(p90)},
    {"TTFT p99 (ms)", SUM(ttft), STAT(p99)},
    {"TTFT max (ms)", SUM(ttft), STAT(max)},
    {"TPOT mean (ms)", SUM(tpot), STAT(mean)},
    {"TPOT p50 (ms)", SUM(tpot), STAT(p50)},
    {"TPOT p90 (ms)", SUM(tpot), STAT(p90)},
    {"TPOT p99 (ms)", SUM(tpot), STAT(p99)},
    {"TPOT max (ms)", SUM(tpot), STAT(max)},
};

static double row_value(const row_t *r, const mlfq_summary_t *s) {
  const char *base = (const char *)s + r->off;

  if (r->stat_off == SIZE_MAX)
    return *(const double *)base;
  return *(const double *)(base + r->stat_off);
}

/* The memory rows; "-" where a run had no capacity or its peak is not
 * known. */
static void kv_rows(FILE *f, const mlfq_summary_t *sums, size_t n, int w) {
  char buf[32];
  size_t k;

  fprintf(f, "%-20s", "preemptions");
  for (k = 0; k < n; k++)
    fprintf(f, "%*llu", w, (unsigned long long)sums[k].preemptions);
  fputc('\n', f);
  fprintf(f, "%-20s", "preemptions per req");
  for (k = 0; k < n; k++)
    fprintf(f, "%*s", w, mlfq_report_num(sums[k].preempt_rate, buf));
  fputc('\n', f);
  fprintf(f, "%-20s", "swapped tokens");
  for (k = 0; k < n; k++)
    fprintf(f, "%*llu", w, (unsigned long long)sums[k].swapped_tokens);
  fputc('\n', f);
  fprintf(f, "%-20s", "KV capacity (tokens)");
  for (k = 0; k < n; k++)
    if (sums[k].kv_capacity > 0)
      fprintf(f, "%*llu", w, (unsigned long long)sums[k].kv_capacity);
    else
      fprintf(f, "%*s", w, "-");
  fputc('\n', f);
  fprintf(f, "%-20s", "KV peak (tokens)");
  for (k = 0; k < n; k++)
    if (sums[k].kv_capacity > 0 && sums[k].kv_peak != MLFQ_KV_PEAK_UNKNOWN)
      fprintf(f, "%*llu", w, (unsigned long long)sums[k].kv_peak);
    else
      fprintf(f, "%*s", w, "-");
  fputc('\n', f);
}

void mlfq_report_table(FILE *f, const char *const *labels,
                       const mlfq_summary_t *sums, size_t n) {
  char buf[32];
  size_t i, k;
  int w = 12;

  for (k = 0; k < n; k++)
    if ((int)strlen(labels[k]) + 2 > w)
      w = (int)strlen(labels[k]) + 2;
  fprintf(f, "%-20s", "");
  for (k = 0; k < n; k++)
    fprintf(f, "%*s", w, labels[k]);
  fputc('\n', f);
  fprintf(f, "%-20s", "requests");
  for (k = 0; k < n; k++)
    fprintf(f, "%*zu", w, sums[k].requests);
  fputc('\n', f);
  fprintf(f, "%-20s", "failed");
  for (k = 0; k < n; k++)
    fprintf(f, "%*zu", w, sums[k].failed);
  fputc('\n', f);
  for (i = 0; i < sizeof(table_rows) / sizeof(table_rows[0]); i++) {
    fprintf(f, "%-20s", table_rows[i].name);
    for (k = 0; k < n; k++)
      fprintf(f, "%*s", w,
              mlfq_report_num(row_value(&table_rows[i], &sums[k]), buf));
    fputc('\n', f);
  }
  for (k = 0; k < n; k++)
    if (sums[k].kv_capacity > 0)
      break;
  if (k < n)
    kv_rows(f, sums, n, w);
  if (n > 1) {
    snprintf(buf, sizeof(buf), "JCT mean / %s", labels[0]);
    fprintf(f, "%-20s", buf);
    for (k = 0; k < n; k++) {
      double r =
          sums[0].jct.mean > 0 ? sums[k].jct.mean / sums[0].jct.mean : NAN;
      if (isnan(r))
        fprintf(f, "%*s", w, "-");
      else
        fprintf(f, "%*.3f", w, r);
    }
    fputc('\n', f);
  }
}

static cJSON *stat_json(const mlfq_stat_t *st) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddNumberToObject(o, "n", (double)st->n);
  cJSON_AddNumberToObject(o, "mean", st->mean);
  cJSON_AddNumberToObject(o, "p50", st->p50);
  cJSON_AddNumberToObject(o, "p90", st->p90);
  cJSON_AddNumberToObject(o, "p99", st->p99);
  cJSON_AddNumberToObject(o, "max", st->max);
  return o;
}

cJSON *mlfq_report_summary_json(const mlfq_summary_t *s) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddNumberToObject(o, "requests", (double)s->requests);
  cJSON_AddNumberToObject(o, "failed", (double)s->failed);
  cJSON_AddNumberToObject(o, "tokens", (double)s->tokens);
  cJSON_AddNumberToObject(o, "makespan_ms", s->makespan_ms);
  cJSON_AddNumberToObject(o, "throughput_rps", s->req_per_s);
  cJSON_AddNumberToObject(o, "throughput_tps", s->tok_per_s);
  cJSON_AddItemToObject(o, "jct_ms", stat_json(&s->jct));
  cJSON_AddItemToObject(o, "ttft_ms", stat_json(&s->ttft));
  cJSON_AddItemToObject(o, "tpot_ms", stat_json(&s->tpot));
  if (s->kv_capacity > 0) {
    cJSON_AddNumberToObject(o, "preemptions", (double)s->preemptions);
    cJSON_AddNumberToObject(o, "preemption_rate", s->preempt_rate);
    cJSON_AddNumberToObject(o, "swapped_tokens", (double)s->swapped_tokens);
    cJSON_AddNumberToObject(o, "kv_capacity_tokens", (double)s->kv_capacity);
    if (s->kv_peak != MLFQ_KV_PEAK_UNKNOWN)
      cJSON_AddNumberToObject(o, "kv_peak_tokens", (double)s->kv_peak);
    else
      cJSON_AddNullToObject(o, "kv_peak_tokens");
  }
  return o;
}

cJSON *mlfq_report_config_json(const mlfq_sched_config_t *cfg,
                               const mlfq_sched_params_t *p,
                               const mlfq_cost_t *cost) {
  cJSON *o = cJSON_CreateObject(), *q, *c, *rows;
  unsigned i;
  size_t k;

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "policy", cfg->policy);
  cJSON_AddNumberToObject(o, "queues", p->queues);
  q = cJSON_AddArrayToObject(o, "quanta_ms");
  for (i = 0; i < p->queues && q != NULL; i++)
    cJSON_AddItemToArray(q,
                         cJSON_CreateNumber(mlfq_ns_to_ms(p->quantum_ns[i])));
  cJSON_AddNumberToObject(o, "quantum_rate", cfg->quantum_rate);
  cJSON_AddNumberToObject(o, "starve_limit_ms", mlfq_ns_to_ms(p->starve_ns));
  cJSON_AddStringToObject(o, "preempt",
                          p->preempt == MLFQ_PREEMPT_QUANTUM ? "quantum"
                                                             : "iteration");
  cJSON_AddNumberToObject(o, "max_batch", p->max_batch);
  cJSON_AddNumberToObject(o, "workers", p->workers);
  if (p->kv_capacity > 0) {
    cJSON_AddNumberToObject(o, "kv_capacity_tokens", (double)p->kv_capacity);
    cJSON_AddStringToObject(o, "on_full", mlfq_on_full_name(p->on_full));
    cJSON_AddNumberToObject(o, "swap_ms_per_token", cfg->swap_ms_per_token);
  }
  c = cJSON_AddObjectToObject(o, "cost");
  if (c != NULL) {
    cJSON_AddStringToObject(
        c, "kind", cost->kind == MLFQ_COST_PROFILE ? "profile" : "linear");
    cJSON_AddStringToObject(c, "source", cost->source);
    if (cost->kind == MLFQ_COST_LINEAR) {
      cJSON_AddNumberToObject(c, "prefill_base_ms", cost->prefill_base_ms);
      cJSON_AddNumberToObject(c, "prefill_ms_per_token",
                              cost->prefill_ms_per_token);
      cJSON_AddNumberToObject(c, "decode_ms", cost->decode_ms);
    } else {
      rows = cJSON_AddArrayToObject(c, "rows");
      for (k = 0; k < cost->nrows && rows != NULL; k++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "input_length", cost->rows[k].input_len);
        cJSON_AddNumberToObject(r, "prefill_ms", cost->rows[k].prefill_ms);
        cJSON_AddNumberToObject(r, "decode_ms", cost->rows[k].decode_ms);
        cJSON_AddItemToArray(rows, r);
      }
    }
    cJSON_AddNumberToObject(c, "batch_decode_ms_per_seq",
                            cost->batch_decode_ms_per_seq);
  }
  return o;
}

int mlfq_report_write_json(const char *path, const cJSON *doc) {
  char *text = cJSON_Print(doc);
  FILE *f;
  int rc = 0;

  if (text == NULL)
    return MLFQ_ENOMEM;
  f = fopen(path, "w");
  if (f == NULL) {
    rc = -errno;
  } else {
    fputs(text, f);
    fputc('\n', f);
    if (fclose(f) != 0)
      rc = -errno;
  }
  cJSON_free(text);
  return rc;
}

char *mlfq_report_label_path(const char *path, const char *label, char *buf,
                             size_t len) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  int n;

  if (dot == NULL || (slash != NULL && dot < slash) || dot == path ||
      (slash != NULL && dot == slash + 1))
    n = snprintf(buf, len, "%s-%s", path, label);
  else
    n = snprintf(buf, len, "%.*s-%s%s", (int)(dot - path), path, label, dot);
  return n < 0 || (size_t)n >= len ? NULL : buf;
}
