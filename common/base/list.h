/* Intrusive circular doubly linked lists.
 *
 * A list head is an mlfq_link_t whose next and prev point to itself when the
 * list is empty. Elements embed an mlfq_link_t and are recovered with
 * MLFQ_CONTAINER_OF. Every operation is O(1). No allocation, no locking.
 */
#ifndef MLFQ_LIST_H
#define MLFQ_LIST_H

#include <stddef.h>

typedef struct mlfq_link_s mlfq_link_t;
struct mlfq_link_s {
  mlfq_link_t *next;
  mlfq_link_t *prev;
};

#define MLFQ_CONTAINER_OF(ptr, type, field)                                    \
  ((type *)((char *)(ptr)-offsetof(type, field)))

static inline void mlfq_list_init(mlfq_link_t *h) {
  h->next = h;
  h->prev = h;
}

static inline int mlfq_list_empty(const mlfq_link_t *h) { return h->next == h; }

/* Inserts e before pos; with pos the head, that is the tail of the list. */
static inline void mlfq_list_insert_before(mlfq_link_t *pos, mlfq_link_t *e) {
  e->next = pos;
  e->prev = pos->prev;
  pos->prev->next = e;
  pos->prev = e;
}

static inline void mlfq_list_push_tail(mlfq_link_t *h, mlfq_link_t *e) {
  mlfq_list_insert_before(h, e);
}

static inline void mlfq_list_remove(mlfq_link_t *e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->next = e;
  e->prev = e;
}

/* True if e is linked into some list (it was removed with mlfq_list_remove
 * or initialised with mlfq_list_init otherwise). */
static inline int mlfq_list_linked(const mlfq_link_t *e) {
  return e->next != e;
}

#endif
