-- wrk's request for tests/server/http-load.sh: a plain completion of 8
-- tokens, the same on every connection (wrk keeps connections alive).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mlfqd","prompt":"a b c d","max_tokens":8}'
