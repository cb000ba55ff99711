/* Bugs the fuzz harnesses (tests/fuzz) found, one regression test each,
 * replaying the crashing input's bytes through the code that failed. The
 * whole inputs are kept in tests/fuzz/regressions/NAME/ and replayed end
 * to end by ctest's fuzz/replay_NAME. */
#include "task.h"
#include "wire/mlfq.pb-c.h"
#include "wire/wire.h"

/* Inside Token{id 1, index 1}: a field 0 tag written in two bytes (80 00)
 * with the varint 2. protobuf-c unpacks it as an unknown field and packs
 * it back as the one byte 00, which it then refuses to unpack. */
static const uint8_t token_field0[] = {0x1a, 0x07, 0x08, 0x01, 0x10,
                                       0x01, 0x80, 0x00, 0x02};
/* Submit{id 1, input 10, output 2} with the same field. */
static const uint8_t submit_field0[] = {0x12, 0x09, 0x08, 0x01, 0x10, 0x0a,
                                        0x18, 0x02, 0x80, 0x00, 0x02};

/* tests/fuzz/regressions/router-replica/field-zero-tag-relayed: the router
 * relayed such a Token to its client, which could not read it. */
TEST(fuzzfound, replica_field_zero_tag_not_relayed) {
  Mlfq__ServerMessage *m, *again;
  uint8_t out[64];
  size_t n;

  m = mlfq__server_message__unpack(NULL, sizeof(token_field0), token_field0);
  ASSERT(m != NULL);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_TOKEN);
  /* What relaying it did: pack it again and hand it on. */
  n = mlfq__server_message__pack(m, out);
  again = mlfq__server_message__unpack(NULL, n, out);
  ASSERT(again == NULL);
  /* The router's replica.c now refuses the message before relaying it. */
  ASSERT_EQ(mlfq_wire_tags_valid(&m->base), 0);
  mlfq__server_message__free_unpacked(m, NULL);
}

/* tests/fuzz/regressions/router-client/field-zero-submit: the router
 * relayed such a Submit to its replica, which closed the connection with
 * BAD_MESSAGE, and every client's requests on it were lost. */
TEST(fuzzfound, client_field_zero_tag_not_relayed) {
  Mlfq__ClientMessage *m;

  m = mlfq__client_message__unpack(NULL, sizeof(submit_field0), submit_field0);
  ASSERT(m != NULL);
  ASSERT_EQ(m->msg_case, MLFQ__CLIENT_MESSAGE__MSG_SUBMIT);
  ASSERT_EQ(mlfq_wire_tags_valid(&m->base), 0);
  mlfq__client_message__free_unpacked(m, NULL);
}

TEST(fuzzfound, valid_messages_pass_tag_check) {
  Mlfq__ServerMessage *m;
  Mlfq__ClientMessage *c;
  /* The same messages without the bad field. */
  static const uint8_t token[] = {0x1a, 0x04, 0x08, 0x01, 0x10, 0x01};
  static const uint8_t submit[] = {0x12, 0x06, 0x08, 0x01,
                                   0x10, 0x0a, 0x18, 0x02};

  m = mlfq__server_message__unpack(NULL, sizeof(token), token);
  ASSERT(m != NULL);
  ASSERT_EQ(mlfq_wire_tags_valid(&m->base), 1);
  mlfq__server_message__free_unpacked(m, NULL);
  c = mlfq__client_message__unpack(NULL, sizeof(submit), submit);
  ASSERT(c != NULL);
  ASSERT_EQ(mlfq_wire_tags_valid(&c->base), 1);
  mlfq__client_message__free_unpacked(c, NULL);
}
