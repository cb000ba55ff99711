/* DESIGN
 *
 * mlfqd's presets: a row of values per preset, and the KV capacity they
 * derive from a model and a GPU. "vllm" is a default vLLM (v1) OpenAI
 * server for OPT-1.3B, the model of the built-in cost profile; each value
 * and its source in vLLM are in docs/HTTP.md, "Preset vllm". mlfqd.c
 * applies a preset as defaults before the options are parsed, so that an
 * option given on the command line wins wherever it stands.
 */
#include "preset.h"

#include <math.h>
#include <string.h>

static const preset_t presets[] = {{
    "vllm", "fcfs",         /* vLLM's scheduling policy default */
    256,                    /* max_num_seqs */
    MLFQ_ON_FULL_RECOMPUTE, /* vLLM v1 preempts by recomputation */
    "127.0.0.1:8000",       /* vLLM's port, on loopback only */
    "facebook/opt-1.3b",    /* the served name is the --model given */
    24,                     /* OPT-1.3B: num_hidden_layers */
    2048,                   /* hidden_size */
    2,                      /* fp16 */
    2631516160ull,          /* 1,315,758,080 parameters of 2 bytes */
    40,                     /* a 40 GiB GPU (A100-40GB) */
    0.9,                    /* gpu_memory_utilization */
    16,                     /* vLLM's default block_size */
}};

#define NPRESETS (sizeof(presets) / sizeof(presets[0]))

const preset_t *preset_find(const char *name) {
  size_t i;

  for (i = 0; i < NPRESETS; i++)
    if (strcmp(presets[i].name, name) == 0)
      return &presets[i];
  return NULL;
}

const char *preset_names(void) {
  static char buf[256]; /* written at start-up, on the main thread */
  size_t i;

  buf[0] = '\0';
  for (i = 0; i < NPRESETS; i++) {
    if (i > 0)
      strncat(buf, ", ", sizeof(buf) - strlen(buf) - 1);
    strncat(buf, presets[i].name, sizeof(buf) - strlen(buf) - 1);
  }
  return buf;
}

uint64_t preset_token_bytes(const preset_t *p) {
  return 2ull * p->layers * p->hidden * p->kv_bytes;
}

uint64_t preset_kv_tokens(const preset_t *p, double gib) {
  double usable = floor(gib * 1073741824.0 * p->gpu_memory_utilization);
  double left = usable - (double)p->weight_bytes;
  uint64_t tokens;

  if (!(left > 0))
    return 0;
  tokens = (uint64_t)(left / (double)preset_token_bytes(p));
  return tokens / p->block_tokens * p->block_tokens;
}
