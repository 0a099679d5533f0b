#!/usr/bin/env bash
# cli_test.sh BUILD_DIR: the mlexp command end to end on small subsets
# (train, info, eval, predict, resume, Ctrl-C) and its answers to bad input.
# Prints "ok NAME" / "FAIL NAME" per test and ends with "N passed, N failed".
set -u
BIN=$(cd "$1" && pwd)/mlexp
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/mlexp_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
export MLEXP_DATA=$ROOT/data
PY=/usr/bin/python3
pass=0 fail=0

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# run NAME EXPECTED_RC CMD...: output in $T/out
run() {
  local name=$1 want=$2; shift 2
  "$@" >"$T/out" 2>&1
  local rc=$?
  if [ "$want" = nonzero ]; then
    [ $rc -ne 0 ] && return 0
  elif [ $rc -eq "$want" ]; then
    return 0
  fi
  bad "$name" "exit $rc (want $want): $(tail -n 3 "$T/out" | tr '\n' ' ')"
  return 1
}

# expect NAME PATTERN: the last output matches
expect() {
  if grep -qE -- "$2" "$T/out"; then ok "$1"; else bad "$1" "output lacks /$2/: $(tail -n 3 "$T/out" | tr '\n' ' ')"; fi
}

# ---- help and usage ----
run help 0 "$BIN" --help && expect help "train EXPERIMENT"
run train_help 0 "$BIN" train --help && expect train_help "digits_cnn"
run unknown_command 2 "$BIN" frobnicate && expect unknown_command "unknown command"
run unknown_option 2 "$BIN" train digits_cnn --epoch 3 && expect unknown_option "unknown option --epoch"
run bad_number 2 "$BIN" train digits_cnn --epochs zero && expect bad_number "--epochs must be an integer"
run unknown_experiment 1 "$BIN" train nosuch && expect unknown_experiment "no experiment 'nosuch'"

# ---- train, info, eval, predict on a subset ----
if run train_subset 0 "$BIN" train digits_cnn --limit 400 --epochs 2 --threads 2 --out "$T/dc"; then
  expect train_subset "test accuracy: 0\.[0-9]+"
  missing=""
  for f in model.json group1-shard1of1.bin metadata.json history.json report.html checkpoint/model.json \
           checkpoint/optimizer.bin checkpoint/state.json; do
    [ -s "$T/dc/$f" ] || missing="$missing $f"
  done
  [ -z "$missing" ] && ok train_outputs || bad train_outputs "missing:$missing"
  grep -q '"layers-model"' "$T/dc/model.json" && grep -q '"epochs"' "$T/dc/history.json" &&
    grep -q '<svg' "$T/dc/report.html" && ok train_formats || bad train_formats "model.json/history.json/report.html content"
fi
run info 0 "$BIN" info "$T/dc" && expect info "Total params: 37,610" &&
  expect info_count_formulas "\(kh\*kw\*cin \+ 1\) \* filters = \(5\*5\*1 \+ 1\) \* 8 = 208" &&
  expect info_shape_formulas "height floor\(\(28 \+ 2\*0 - 5\) / 1\) \+ 1 = 24"
run gradcheck_model 0 "$BIN" gradcheck "$T/dc" && expect gradcheck_model "all 9 tensors pass"
run eval 0 "$BIN" eval "$T/dc" && expect eval "confusion matrix"
if [ -x $PY ] && $PY -c 'import numpy' 2>/dev/null; then
  $PY -c "import numpy as np; np.save('$T/x.npy', np.random.RandomState(0).rand(5, 28, 28, 1).astype(np.float32))"
  if run predict 0 "$BIN" predict "$T/dc" --input "$T/x.npy" --output "$T/y.npy"; then
    $PY -c "
import numpy as np, sys
y = np.load('$T/y.npy')
sys.exit(0 if y.shape == (5, 10) and y.dtype == np.float32 and np.allclose(y.sum(1), 1, atol=1e-5) else 1)" &&
      ok predict_output || bad predict_output "Y.npy is not 5 probability rows of 10"
  fi
  $PY -c "import numpy as np; np.save('$T/wrong.npy', np.zeros((5, 28, 28), np.float32))"
  run predict_wrong_shape 1 "$BIN" predict "$T/dc" --input "$T/wrong.npy" --output "$T/y2.npy" &&
    expect predict_wrong_shape "\(5, 28, 28\).*\(N, 28, 28, 1\)"
  $PY -c "import numpy as np; np.save('$T/cplx.npy', np.zeros((5, 28, 28, 1), np.complex64))"
  run predict_wrong_dtype 1 "$BIN" predict "$T/dc" --input "$T/cplx.npy" --output "$T/y3.npy" && expect predict_wrong_dtype "dtype"
  [ ! -e "$T/y2.npy" ] && [ ! -e "$T/y3.npy" ] && ok predict_no_output_on_error || bad predict_no_output_on_error "wrote output"
else
  bad predict "/usr/bin/python3 with numpy is needed (scripts/setup.sh --test)"
fi

# ---- standard MNIST IDX files from --data DIR (here: 300 generated digits in that format) ----
if [ -x $PY ] && $PY -c 'import numpy' 2>/dev/null; then
  mkdir -p "$T/mnist"
  $PY - "$T/mnist" <<'EOF'
import gzip, sys, numpy as np
d = sys.argv[1]
r = np.random.RandomState(0)
for split, n in (("train", 300), ("t10k", 100)):
    y = r.randint(0, 10, n).astype(np.uint8)
    x = np.zeros((n, 28, 28), np.uint8)
    for i, c in enumerate(y):  # a bright column whose position is the class
        x[i, 4:24, 4 + 2 * c:6 + 2 * c] = 200 + r.randint(0, 55)
    with gzip.open(f"{d}/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write(np.array([0x803, n, 28, 28], ">u4").tobytes() + x.tobytes())
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:  # plain, not gzipped
        f.write(np.array([0x801, n], ">u4").tobytes() + y.tobytes())
EOF
  run mnist_idx 0 "$BIN" train digits_mlp --dataset mnist --data "$T/mnist" --epochs 3 --out "$T/mn" &&
    expect mnist_idx "on 300 samples \\(mnist\\)"
  grep -q '"dataset": "mnist"' "$T/mn/metadata.json" && ok mnist_metadata || bad mnist_metadata "metadata.json does not name mnist"
fi

# ---- transfer learning on a frozen MobileNetV2 (random weights, made by TF.js) ----
if command -v node >/dev/null && [ -d "$ROOT/tests/tfjs/node_modules/@tensorflow/tfjs" ] && $PY -c 'import numpy' 2>/dev/null; then
  node "$ROOT/tests/tfjs/mobilenet_v2.js" "$T/mnv2" >/dev/null 2>&1 && ok mobilenet_v2_made || bad mobilenet_v2_made "node tests/tfjs/mobilenet_v2.js failed"
  run predict_photo 0 "$BIN" predict "$T/mnv2" --image "$ROOT/data/photos/fruits.jpg" --top 3 &&
    expect predict_photo "fruits.jpg \\(512x480, resized to 224x224\\)"
  $PY - "$T/rps" <<'EOF'
# three classes of drawn shapes, as PNG files of different sizes
import os, struct, sys, zlib
import numpy as np
def png(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
r = np.random.RandomState(0)
for cls in ("paper", "rock", "scissors"):
    os.makedirs(f"{sys.argv[1]}/{cls}")
    for i in range(10):
        s = r.randint(90, 160)
        a = (r.rand(s, s, 3) * 40 + 100).astype(np.uint8)
        yy, xx = np.mgrid[:s, :s] / s
        m = {"rock": (yy - .5) ** 2 + (xx - .5) ** 2 < .1, "paper": (abs(yy - .5) < .35) & (abs(xx - .5) < .25),
             "scissors": (abs(yy - xx) < .08) | (abs(yy + xx - 1) < .08)}[cls]
        a[m] = [230, 180, 150]
        png(f"{sys.argv[1]}/{cls}/{i:03d}.png", a)
EOF
  if run transfer_train 0 "$BIN" train rps_transfer --base "$T/mnv2" --data "$T/rps" --epochs 2 --out "$T/rps_out"; then
    expect transfer_train "2257984 parameters frozen"
    run transfer_base_frozen 0 $PY "$ROOT/tests/compare_weights.py" "$T/mnv2" "$T/rps_out" &&
      expect transfer_base_frozen "260 weights compared, 0 differ"
    run transfer_info 0 "$BIN" info "$T/rps_out" && expect transfer_info "Non-trainable params: 2,257,984"
    run transfer_predict 0 "$BIN" predict "$T/rps_out" --image "$T/rps/rock/000.png" && expect transfer_predict "%  (rock|paper|scissors)"
    run transfer_eval 0 "$BIN" eval "$T/rps_out" && expect transfer_eval "image_folder test \\(6 samples\\)"
  fi
  run transfer_no_base 1 "$BIN" train rps_transfer --base "$T/nothing" --data "$T/rps" && expect transfer_no_base "not found"
else
  bad transfer "node with tests/tfjs/node_modules and numpy are needed (scripts/setup.sh --test)"
fi

# ---- numbers_summation: a sequence model on generated sums, text in and out ----
if run ns_train 0 "$BIN" train numbers_summation --limit 600 --epochs 1 --threads 2 --out "$T/ns"; then
  expect ns_train "test exact match: 0\.[0-9]+"
  grep -q '"alphabet": "0123456789+ "' "$T/ns/metadata.json" && grep -q '"test_exact_match"' "$T/ns/metadata.json" &&
    ok ns_metadata || bad ns_metadata "metadata.json lacks the alphabet or the exact match"
  grep -q 'test exact match' "$T/ns/report.html" && ok ns_report || bad ns_report "report.html lacks the exact match"
fi
run ns_info 0 "$BIN" info "$T/ns" && expect ns_info "Total params: 205,324"
run ns_eval 0 "$BIN" eval "$T/ns" && expect ns_eval "also occur in the training set"
run ns_eval_seed 0 "$BIN" eval "$T/ns" --seed 99 && expect ns_eval_seed "new samples \(600, seed 99\)"
run ns_predict 0 "$BIN" predict "$T/ns" --text "34+27" && expect ns_predict "^34\+27 = [0-9]*$"
run ns_predict_bad 1 "$BIN" predict "$T/ns" --text "34-27" && expect ns_predict_bad "character '-'"
run ns_predict_long 1 "$BIN" predict "$T/ns" --text "1234+5678" && expect ns_predict_long "more than the 7"
run ns_predict_not_text 1 "$BIN" predict "$T/dc" --text "34+27" && expect ns_predict_not_text "does not read text"

# ---- resume: 1 epoch + resume to 2 equals 2 epochs, bit for bit ----
run resume_a 0 "$BIN" train digits_mlp --limit 300 --epochs 2 --out "$T/ra" &&
  run resume_b1 0 "$BIN" train digits_mlp --limit 300 --epochs 1 --out "$T/rb" &&
  run resume_b2 0 "$BIN" train digits_mlp --limit 300 --epochs 2 --out "$T/rb" --resume && {
    expect resume_b2 "resuming digits_mlp after epoch 1"
    cmp -s "$T/ra/group1-shard1of1.bin" "$T/rb/group1-shard1of1.bin" && ok resume_bit_identical ||
      bad resume_bit_identical "weights differ from an uninterrupted run"
  }
run resume_wrong_seed 1 "$BIN" train digits_mlp --limit 300 --epochs 3 --out "$T/rb" --resume --seed 7 &&
  expect resume_wrong_seed "seed"
run resume_missing 1 "$BIN" train digits_mlp --epochs 3 --out "$T/none" --resume && expect resume_missing "no checkpoint"

# ---- a GAN: a tiny DCGAN-shaped pair on 256 Fashion-MNIST images ----
cat >"$T/gan.json" <<'JSON'
{"name": "tiny_gan", "kind": "gan", "title": "tiny GAN", "dataset": {"name": "fashion_mnist"},
 "preprocessing": {"scale": 0.00784313725490196, "offset": -1}, "noise_dim": 8,
 "generator": {"class_name": "Sequential", "config": {"name": "g", "layers": [
   {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8]}},
   {"class_name": "Dense", "config": {"units": 196, "use_bias": false}},
   {"class_name": "BatchNormalization", "config": {}}, {"class_name": "LeakyReLU", "config": {}},
   {"class_name": "Reshape", "config": {"target_shape": [7, 7, 4]}},
   {"class_name": "Conv2DTranspose", "config": {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "use_bias": false}},
   {"class_name": "BatchNormalization", "config": {}}, {"class_name": "LeakyReLU", "config": {}},
   {"class_name": "Conv2DTranspose", "config": {"filters": 1, "kernel_size": 3, "strides": 2, "padding": "same", "use_bias": false, "activation": "tanh"}}]}},
 "discriminator": {"class_name": "Sequential", "config": {"name": "d", "layers": [
   {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28, 1]}},
   {"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}},
   {"class_name": "LeakyReLU", "config": {}}, {"class_name": "Dropout", "config": {"rate": 0.3}},
   {"class_name": "Flatten", "config": {}}, {"class_name": "Dense", "config": {"units": 1}}]}},
 "training": {"epochs": 2, "batch_size": 64, "seed": 3,
   "generator_optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
   "discriminator_optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}}},
 "samples": {"rows": 4, "cols": 4, "seed": 11}}
JSON
if run gan_train 0 "$BIN" train "$T/gan.json" --limit 256 --threads 2 --out "$T/gan"; then
  expect gan_train "Epoch 2/2 .* g_loss [0-9.]+  d_loss [0-9.]+"
  missing=""
  for f in model.json metadata.json history.json report.html discriminator/model.json samples/epoch_001.png \
           samples/epoch_002.png checkpoint/generator/optimizer.bin checkpoint/discriminator/optimizer.bin \
           checkpoint/state.json; do
    [ -s "$T/gan/$f" ] || missing="$missing $f"
  done
  [ -z "$missing" ] && ok gan_outputs || bad gan_outputs "missing:$missing"
  grep -q '"kind": "gan"' "$T/gan/metadata.json" && grep -q '"g_loss"' "$T/gan/history.json" &&
    [ "$(grep -c 'data:image/png;base64' "$T/gan/report.html")" -eq 2 ] && grep -q 'Generator loss' "$T/gan/report.html" &&
    ok gan_formats || bad gan_formats "metadata.json/history.json/report.html content"
fi
run gan_resume_b1 0 "$BIN" train "$T/gan.json" --limit 256 --epochs 1 --out "$T/gan1" &&
  run gan_resume_b2 0 "$BIN" train "$T/gan.json" --limit 256 --epochs 2 --out "$T/gan1" --resume && {
    expect gan_resume_b2 "resuming tiny_gan after epoch 1"
    cmp -s "$T/gan/group1-shard1of1.bin" "$T/gan1/group1-shard1of1.bin" &&
      cmp -s "$T/gan/discriminator/group1-shard1of1.bin" "$T/gan1/discriminator/group1-shard1of1.bin" &&
      cmp -s "$T/gan/samples/epoch_002.png" "$T/gan1/samples/epoch_002.png" && ok gan_resume_bit_identical ||
      bad gan_resume_bit_identical "weights or grid differ from an uninterrupted run"
  }
run gan_generate 0 "$BIN" generate "$T/gan" --noise-seed 5 --out "$T/g1.png" --noise-out "$T/z.npy" &&
  expect gan_generate "16 images from noise seed 5" &&
  run gan_generate_again 0 "$BIN" generate "$T/gan" --noise-seed 5 --out "$T/g2.png" &&
  run gan_generate_other 0 "$BIN" generate "$T/gan" --noise-seed 6 --out "$T/g3.png" --rows 2 --cols 3 && {
    cmp -s "$T/g1.png" "$T/g2.png" && ! cmp -s "$T/g1.png" "$T/g3.png" && ok gan_generate_deterministic ||
      bad gan_generate_deterministic "the same seed gave another grid, or another seed the same"
    # 4x4 tiles of 28 with 2-pixel gaps: 118x118; 2x3: 58 high, 88 wide (PNG header)
    $PY -c "
import struct, sys
def size(p):
    d = open(p, 'rb').read(24)
    return struct.unpack('>II', d[16:24])
sys.exit(0 if size(sys.argv[1]) == (118, 118) and size(sys.argv[2]) == (88, 58) else 1)" "$T/g1.png" "$T/g3.png" &&
      ok gan_generate_sizes || bad gan_generate_sizes "grid PNG sizes"
  }
# TF.js loads the generator and makes the same images from the same noise
if [ -s "$T/z.npy" ] && run gan_predict 0 "$BIN" predict "$T/gan" --input "$T/z.npy" --output "$T/y_mlexp.npy" &&
   run gan_tfjs 0 node "$ROOT/tests/tfjs/predict.js" "$T/gan" "$T/z.npy" "$T/y_tfjs.npy"; then
  $PY -c "
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
d = float(np.abs(a - b).max())
print('max |mlexp - TF.js| = %.3g' % d)
sys.exit(0 if a.shape == (16, 28, 28, 1) and d <= 1e-4 else 1)" "$T/y_mlexp.npy" "$T/y_tfjs.npy" >"$T/out" 2>&1 &&
    ok "gan_tfjs_same_images ($(cat "$T/out"))" || bad gan_tfjs_same_images "$(cat "$T/out")"
fi
run gan_eval 1 "$BIN" eval "$T/gan" && expect gan_eval "is a GAN's generator"
# Ctrl-C keeps the GAN's last checkpoint; --resume goes on from it
"$BIN" train "$T/gan.json" --limit 256 --epochs 400 --out "$T/gan_int" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -s "$T/gan_int/checkpoint/state.json" ] && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q "interrupted" "$T/out"; then
  run gan_resume_after_interrupt 0 "$BIN" train "$T/gan.json" --limit 256 --epochs 2 --out "$T/gan_int" --resume &&
    expect gan_resume_after_interrupt "resuming tiny_gan after epoch|nothing to train"
else
  bad gan_interrupt "exit $rc: $(tail -n 2 "$T/out" | tr '\n' ' ')"
fi
run gan_generate_not_gan 1 "$BIN" generate "$T/dc" --out "$T/x.png" && expect gan_generate_not_gan "not a generative model"
run gan_generate_no_out 2 "$BIN" generate "$T/gan" --noise-seed 1 && expect gan_generate_no_out "--out PNG is required"
run gan_generate_missing 1 "$BIN" generate "$T/nosuch" --out "$T/x.png" && expect gan_generate_missing "nosuch/metadata.json"
sed 's/"kind": "gan"/"kind": "vae"/' "$T/gan.json" >"$T/vae.json"
run gan_bad_kind 1 "$BIN" train "$T/vae.json" && expect gan_bad_kind "'kind' must be \"gan\""
sed 's/"units": 1}}/"units": 1, "activation": "sigmoid"}}/' "$T/gan.json" >"$T/sig.json"
run gan_not_logit 1 "$BIN" train "$T/sig.json" --limit 64 --out "$T/sig" && expect gan_not_logit "must output a logit"
sed 's/"noise_dim": 8/"noise_dim": 9/' "$T/gan.json" >"$T/nd.json"
run gan_noise_dim 1 "$BIN" train "$T/nd.json" --limit 64 --out "$T/nd" && expect gan_noise_dim "noise_dim is 9"

# ---- Ctrl-C keeps the last checkpoint and resume goes on from it ----
"$BIN" train digits_cnn --limit 1000 --epochs 400 --out "$T/int" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -s "$T/int/checkpoint/state.json" ] && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q "interrupted" "$T/out"; then
  run resume_after_interrupt 0 "$BIN" train digits_cnn --limit 1000 --epochs 3 --out "$T/int" --resume &&
    expect resume_after_interrupt "test accuracy"
else
  bad interrupt "exit $rc: $(tail -n 2 "$T/out" | tr '\n' ' ')"
fi

# ---- character-level text: train on a small file, generate, Ctrl-C mid-epoch, bad input ----
$PY - "$T" "$ROOT/experiments/moby_dick.json" <<'EOF'
import json, random, sys
t, exp = sys.argv[1], sys.argv[2]
random.seed(1)
words = "the whale sea ship captain ahab white ishmael boat harpoon".split()
open(f"{t}/small.txt", "w").write(" ".join(random.choice(words) for _ in range(1500)) + "\n")
e = json.load(open(exp))
e["name"] = "tiny_text"
e["dataset"].update(sequence_length=10, path=f"{t}/small.txt")
layers = e["model"]["config"]["layers"]
layers[1]["config"]["output_dim"] = 8
layers[2]["config"]["units"] = 16
e["training"].update(epochs=3, batch_size=4)
json.dump(e, open(f"{t}/tiny_text.json", "w"))
EOF
run text_train 0 "$BIN" train "$T/tiny_text.json" --out "$T/tx" && expect text_train "bits per character" &&
  expect text_progress "chars/s" && expect text_layout "4 streams of [0-9]+ windows of 10"
grep -q "Temperature 0.5" "$T/tx/report.html" 2>/dev/null && grep -q "bits / character" "$T/tx/report.html" &&
  ok text_report || bad text_report "report.html lacks samples or bits per character"
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); assert m['kind']=='text' and m['vocabulary'][0]=='\n' and len(m['vocabulary'])==17" \
  "$T/tx/metadata.json" 2>/dev/null && ok text_metadata || bad text_metadata "metadata.json lacks kind or vocabulary"
if run text_generate 0 "$BIN" generate "$T/tx" --prime "the wh" --length 60 --temperature 0.5 --seed 3; then
  cp "$T/out" "$T/g1"
  expect text_generate_prime "^the wh"
  run text_generate_again 0 "$BIN" generate "$T/tx" --prime "the wh" --length 60 --temperature 0.5 --seed 3 &&
    { cmp -s "$T/out" "$T/g1" && ok text_generate_same_seed || bad text_generate_same_seed "the same seed gave other text"; }
  run text_generate_seed 0 "$BIN" generate "$T/tx" --prime "the wh" --length 60 --temperature 1 --seed 4 &&
    { cmp -s "$T/out" "$T/g1" && bad text_generate_other_seed "another seed and temperature gave the same text" || ok text_generate_other_seed; }
  [ "$(head -n 1 "$T/g1" | wc -m)" = 67 ] && ok text_generate_length || bad text_generate_length "$(cat "$T/g1")"
fi
run text_generate_argmax 0 "$BIN" generate "$T/tx" --prime "ahab" --length 30 --temperature 0 --seed 1 && cp "$T/out" "$T/g0" &&
  run text_generate_argmax2 0 "$BIN" generate "$T/tx" --prime "ahab" --length 30 --temperature 0 --seed 2 &&
  { cmp -s "$T/out" "$T/g0" && ok text_generate_argmax_ignores_seed || bad text_generate_argmax_ignores_seed "temperature 0 depends on the seed"; }
run text_generate_bad_prime 1 "$BIN" generate "$T/tx" --prime "QZ" && expect text_generate_bad_prime "'Q' \(U\+0051\) is not in the model's vocabulary"
run text_generate_bad_temp 2 "$BIN" generate "$T/tx" --temperature -1 && expect text_generate_bad_temp "--temperature"
run generate_other_kind 1 "$BIN" generate "$T/dc" && expect generate_other_kind "kinds: text, gan"
run generate_missing 1 "$BIN" generate "$T/nowhere" && expect generate_missing "nowhere/metadata.json"
run text_budget 0 "$BIN" train "$T/tiny_text.json" --epochs 100000 --time-budget 0.02 --out "$T/tb" &&
  expect text_budget "bits per character"
printf 'the whale \xe2\x82 sea' >"$T/bad_utf8.txt"
run text_bad_utf8 1 "$BIN" train "$T/tiny_text.json" --data "$T/bad_utf8.txt" && expect text_bad_utf8 "bad_utf8.txt: invalid UTF-8 at byte offset 10"
run text_missing_file 1 "$BIN" train "$T/tiny_text.json" --data "$T/none.txt" && expect text_missing_file "none.txt"
printf 'too short' >"$T/short.txt"
run text_too_short 1 "$BIN" train "$T/tiny_text.json" --data "$T/short.txt" && expect text_too_short "too few"
# Ctrl-C in the middle of an epoch saves a checkpoint there (with the streams' states); --resume goes on.
# A longer text, so that the signal lands in an epoch rather than in a checkpoint's file work
for _ in $(seq 1 40); do cat "$T/small.txt"; done >"$T/long.txt"
"$BIN" train "$T/tiny_text.json" --data "$T/long.txt" --epochs 100000 --out "$T/tint" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -s "$T/tint/checkpoint/state.json" ] && break; sleep 0.1; done
sleep 0.2
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -qE "interrupted: saved in .* after step [0-9]+ of epoch" "$T/out"; then
  ok text_interrupt_mid_epoch
  [ -s "$T/tint/checkpoint/states.npy" ] && ok text_interrupt_states || bad text_interrupt_states "no states.npy"
  epoch=$(sed -n 's/.*after step [0-9]* of epoch \([0-9]*\).*/\1/p' "$T/out")
  run text_resume 0 "$BIN" train "$T/tiny_text.json" --data "$T/long.txt" --epochs "$epoch" --out "$T/tint" --resume &&
    expect text_resume "resuming tiny_text in epoch $epoch after step" && expect text_resume_done "bits per character"
elif [ $rc -eq 130 ] && grep -q "interrupted" "$T/out"; then
  ok "text_interrupt (at an epoch's end)"
else
  bad text_interrupt "exit $rc: $(tail -n 2 "$T/out" | tr '\n' ' ')"
fi

# ---- explain and gradcheck on the examples of examples/explain ----
EX=$ROOT/examples/explain
run explain_help 0 "$BIN" explain --help && expect explain_help "docs/explain.md"
run explain_text 0 "$BIN" explain "$EX/sigmoid_221.json" &&
  expect explain_forward "z_h\[0\] = x\[0\]\*W_h\[0,0\] \+ x\[1\]\*W_h\[1,0\] \+ b_h\[0\] = 0.05\*0.15 \+ 0.1\*0.2 \+ 0.35 = 0.3775" &&
  expect explain_chain_rule "dL/dz_o = dL/do\*sigmoid'\(z_o\) = 0.741365\*0.186816 = 0.138499" &&
  expect explain_update "W_o\[0,0\] = 0.4 - 0.5\*0.082167 = 0.358916" &&
  expect explain_check "Check: the 30 numbers worked out above agree"
run explain_markdown 0 "$BIN" explain "$EX/adam.json" --steps 2 --format markdown --precision 4 &&
  expect explain_markdown "^### Update: Adam, keras form" && expect explain_steps "^## Step 2 " &&
  { grep -q "^## Step 3 " "$T/out" && bad explain_steps_override "--steps 2 showed step 3" || ok explain_steps_override; }
if run explain_json 0 "$BIN" explain "$EX/conv_pool.json" --format json; then
  cp "$T/out" "$T/trace.json"
  $PY - "$T/trace.json" <<'EOF' && ok explain_json_values || bad explain_json_values "conv_pool.json's trace lacks the hand-worked numbers"
import json, sys
t = json.load(open(sys.argv[1]))
s = t["steps"][0]
c = next(e for e in s["forward"] if e["symbol"] == "c")["data"]
assert [round(v, 4) for v in c] == [-4.5, 0.5, 5.5, -1.5, -5.5, 8.5, -6.5, 6.5, 1.5], c
assert t["check"]["ok"] and t["format"] == "mlexp-explain-1"
g = next(e for e in s["backward"] if e.get("symbol") == "c")
assert abs(g["data"][5] - 0.0825) < 1e-6
EOF
fi
printf '{"inputs": [1, 2], "layers": [{"type": "Dense", "units": 3}, {"type": "Dense", "units": 1, "kernel": [1, 2, 3, 4, 5]}], "loss": "mse", "targets": [1]}' >"$T/bad_net.json"
run explain_bad_file 1 "$BIN" explain "$T/bad_net.json" && expect explain_bad_file "bad_net.json: layers\[1\].kernel: expected 3x1 values, got 5"
run explain_bad_format 2 "$BIN" explain "$EX/adam.json" --format html && expect explain_bad_format "--format must be"
run gradcheck_explain 0 "$BIN" gradcheck "$EX/relu_softmax.json" && expect gradcheck_explain "all 5 tensors pass"
run gradcheck_experiment 0 "$BIN" gradcheck "$ROOT/experiments/digits_mlp.json" && expect gradcheck_experiment "sparse_categorical_crossentropy"
run gradcheck_missing 1 "$BIN" gradcheck "$T/nowhere" && expect gradcheck_missing "nowhere: not found"

# ---- bad input: clear errors, non-zero exits, no crash ----
run missing_dataset 1 "$BIN" train fashion_cnn --data "$T/nothing" --epochs 1 && expect missing_dataset "fashion_mnist"
mkdir -p "$T/trunc"
head -c 5000 /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz >"$T/trunc/train-images-idx3-ubyte.gz"
cp /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz "$T/trunc/"
run truncated_idx 1 "$BIN" train fashion_cnn --data "$T/trunc" --epochs 1 && expect truncated_idx "train-images-idx3-ubyte"
cp -r "$T/dc" "$T/broken"
head -c 300 "$T/dc/model.json" >"$T/broken/model.json"
run corrupt_model_json 1 "$BIN" info "$T/broken" && expect corrupt_model_json "model.json"
cp "$T/dc/model.json" "$T/broken/model.json"
head -c 1000 "$T/dc/group1-shard1of1.bin" >"$T/broken/group1-shard1of1.bin"
run short_shard 1 "$BIN" eval "$T/broken" && expect short_shard "shard"
sed 's/"Flatten"/"Flattener"/' "$T/dc/model.json" >"$T/broken/model.json"
run unknown_layer 1 "$BIN" info "$T/broken" && expect unknown_layer "Flattener"
sed 's/"batch_size": 32/"batch_size": 32, "batchsize": 8/' "$ROOT/experiments/digits_cnn.json" >"$T/typo.json"
run experiment_typo 1 "$BIN" train "$T/typo.json" && expect experiment_typo "unknown key 'batchsize'"
sed 's/"units": 128/"units": 128, "kernel_constraint": {"class_name": "MaxNorm"}/' "$ROOT/experiments/digits_mlp.json" >"$T/opt.json"
run unsupported_option 1 "$BIN" train "$T/opt.json" && expect unsupported_option "kernel_constraint"
run info_missing 1 "$BIN" info "$T/nowhere" && expect info_missing "nowhere"

# ---- the committed default models reach the accuracy their metadata states ----
for dir in "$ROOT"/models/*/; do
  [ -s "$dir/metadata.json" ] || continue
  name=$(basename "$dir")
  want=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['test_accuracy'])" "$dir/metadata.json")
  if run "model_$name" 0 "$BIN" eval "$dir"; then
    got=$(sed -n 's/^accuracy \([0-9.]*\).*/\1/p' "$T/out" | head -n 1)
    if [ -n "$got" ] && $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) - 0.0005 else 1)" "$got" "$want"; then
      ok "model_$name ($got, stated $want)"
    else
      bad "model_$name" "accuracy ${got:-?}, metadata.json states $want"
    fi
  fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
