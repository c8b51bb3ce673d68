-- wrk script for `make bench`: posts the pre-signed bodies of a file made by bench-common.sh's
-- signed_bodies ("PATH<TAB>SIGNATURE<TAB>BODY" a line), in order, round and round until wrk's
-- duration ends: `wrk ... -s signed-bodies.lua URL -- FILE`. (Each body once is the paced
-- client's job with rate 0: wrk's thread:stop() still waits out the whole duration.)
local requests, count, sent = {}, 0, 0

function init(args)
  for line in io.lines(args[1]) do
    local path, signature, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    count = count + 1
    requests[count] = wrk.format("POST", path,
      {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signature}, body)
  end
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % count + 1]
end
