// The forward pass over a batch of tokens, each at a position of a sequence slot.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"

namespace citadel {

// Tokens to run in one step. Several sequences may share a batch; a token at position p
// attends to positions 0..p of its own sequence (those before this batch must be in the KV
// cache already; those in the batch are written first).
struct Batch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> positions;
    std::vector<int32_t> seq_ids;
    std::vector<uint8_t> want_logits;  // 1 where logits are wanted
    // block_tables[s]: the KV blocks of sequence s; position p is in block [p / block_size].
    // Left empty, sequence s is the state's fixed slot s (ForwardOptions::n_seq slots).
    std::vector<std::vector<int32_t>> block_tables;
    // 1 where a token takes the prompt arithmetic (tiled F32 attention, vector SwiGLU), 0 for
    // the decode arithmetic (llama.cpp's per-query F16 attention, libm's exp). Left empty,
    // runs of >= kPromptRunTokens consecutive positions of one sequence are prompt. The
    // serving engine marks prompt tokens, so a sequence's numbers never depend on how its
    // prompt was chunked, cached or batched.
    std::vector<uint8_t> prompt_arithmetic;

    void add(int32_t token, int32_t pos, int32_t seq, bool logits) {
        tokens.push_back(token);
        positions.push_back(pos);
        seq_ids.push_back(seq);
        want_logits.push_back(logits ? 1 : 0);
    }
    size_t size() const { return tokens.size(); }
    void clear() { *this = Batch(); }
};

constexpr int64_t kPromptRunTokens = 64;

struct ForwardOptions {
    int n_threads = 0;  // 0: one per core
    // Fixed slots (run, chat, logits): n_seq sequences of n_ctx positions, each its own blocks.
    int n_seq = 1;      // sequence slots in the KV cache
    int64_t n_ctx = 0;  // positions per slot; 0: the model's training context (max 4096)
    // Paged (the serving engine): kv_blocks > 0 allocates that many blocks instead, and every
    // batch carries the block tables of its sequences.
    int64_t kv_blocks = 0;
    int block_size = 16;
    KvType kv_type = KvType::kF16;  // KvCache::check must accept it for the model
};

// Per-thread buffers of the attention.
struct AttentionScratch {
    std::vector<uint16_t> q16;              // [head_dim] the query head in F16
    std::vector<uint16_t> acc16;            // [head_dim_v] F16 accumulator of the weighted values
    std::vector<float> tile;                // scratch of the tiled (prompt) attention kernel
    std::vector<uint16_t> k16, v16;         // dequantized Q8_0 keys / values of a head
    std::vector<const uint16_t*> k_blocks;  // per-block key pointers of the tiled kernel
    std::vector<const uint16_t*> v_blocks;
};

// Everything mutable of a forward pass: KV cache, scratch buffers, threads.
struct ForwardState {
    ForwardState(const Model& model, const ForwardOptions& options);

    ThreadPool pool;
    KvCache kv;
    std::vector<std::vector<int32_t>> slot_tables;  // fixed slots' block tables (else empty)
    int64_t slot_ctx = 0;                           // positions per fixed slot (else 0)
    const KernelTable& kernels;
    MatmulScratch matmul_scratch;
    // Activations of the current batch, T = batch size.
    std::vector<float> x;                             // [T][n_embd] residual stream
    std::vector<float> xn;                            // [T][n_embd] normalised
    std::vector<float> q;                             // [T][q_dim]
    std::vector<float> k;                             // [T][kv_dim]
    std::vector<float> v;                             // [T][v_dim]
    std::vector<float> attn;                          // [T][n_head * head_dim_v]
    std::vector<float> gate;                          // [T][n_ff]
    std::vector<float> up;                            // [T][n_ff]
    std::vector<float> rope_cos, rope_sin;            // [T][n_rot / 2]
    std::vector<AttentionScratch> attention_scratch;  // [thread]
    std::vector<uint8_t> prompt_arithmetic;           // [T] effective Batch::prompt_arithmetic
    std::vector<float> logits;                        // [tokens wanting logits][n_vocab]
    int64_t n_logits = 0;
};

// Runs the batch; afterwards state.logits holds one row per token with want_logits set,
// in batch order. Bad input (token id, position, sequence slot) is an error, not a crash.
Status forward(const Model& model, const Batch& batch, ForwardState& state);

// Everything a layer needs while it runs.
struct LayerContext {
    const Model& model;
    const Batch& batch;
    ForwardState& st;
    int64_t layer;
    int64_t n_tokens;

    // The block table of the sequence of batch token t.
    const std::vector<int32_t>& table(int64_t t) const {
        const auto s = size_t(batch.seq_ids[size_t(t)]);
        return batch.block_tables.empty() ? st.slot_tables[s] : batch.block_tables[s];
    }
};

}  // namespace citadel
