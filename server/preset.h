/* mlfqd's presets (--preset NAME): option sets that make it behave like a
 * known server with its defaults (docs/HTTP.md, "Preset vllm"). A preset
 * gives defaults; options given on the command line override them.
 */
#ifndef MLFQ_SERVER_PRESET_H
#define MLFQ_SERVER_PRESET_H

#include <stddef.h>
#include <stdint.h>

#include "core/kv.h"

typedef struct {
  const char *name;
  /* The scheduler. */
  const char *policy;
  unsigned max_batch;
  mlfq_on_full_t on_full;
  /* The HTTP front door. */
  const char *http_listen;
  const char *model_name;
  /* The KV capacity, from a model and a GPU (preset_kv_tokens). */
  unsigned layers;               /* transformer layers */
  unsigned hidden;               /* hidden size: K and V per layer */
  unsigned kv_bytes;             /* bytes of one K or V element (fp16: 2) */
  uint64_t weight_bytes;         /* the model's parameters' bytes */
  double gpu_memory_gib;         /* the default --gpu-memory-gib */
  double gpu_memory_utilization; /* the share the server may use */
  unsigned block_tokens;         /* the capacity is whole blocks of this */
} preset_t;

/* The preset called name, or NULL. */
const preset_t *preset_find(const char *name);

/* The presets' names, separated by ", ", for help and errors. */
const char *preset_names(void);

/* KV bytes of one token: K and V of every layer. */
uint64_t preset_token_bytes(const preset_t *p);

/* KV tokens that fit a GPU of gib GiB: gib * 2^30 *
 * gpu_memory_utilization, less the weights, over preset_token_bytes,
 * rounded down to whole blocks; 0 when the weights do not fit. */
uint64_t preset_kv_tokens(const preset_t *p, double gib);

#endif
