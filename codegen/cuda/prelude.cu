// The kernels every network shares, as templates over its shapes; the
// entry points after this prelude instantiate them once per layer, so
// every size is a compile-time constant. The large ones are __noinline__:
// layers of the same shape then share one compiled body, which keeps
// NVRTC's time for a 152-layer network in bounds. Tensors are float32 NCHW. Every
// scalar argument is 64 bits wide (long long or double), as the host
// passes each launch argument as 8 bytes.

#define RN_TILE_M 64
#define RN_TILE_N 64
#define RN_TILE_K 16
#define RN_THREADS 256

// gemm_tile computes one 64 x 64 tile of C = A * B with K steps, where A
// and B are read through the loaders la(m, k) and lb(k, n), which return
// 0 outside the matrix; 256 threads, each accumulates 4 x 4 values at
// rows ty + 16 i and columns tx + 16 j of the tile.
template <typename LA, typename LB>
__device__ __forceinline__ void gemm_tile(long long K, long long m0, long long n0, LA la, LB lb, float acc[4][4]) {
	__shared__ float As[RN_TILE_K][RN_TILE_M];
	__shared__ float Bs[RN_TILE_K][RN_TILE_N + 1];
	const int t = threadIdx.x, tx = t % 16, ty = t / 16;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			acc[i][j] = 0.f;
	for (long long k0 = 0; k0 < K; k0 += RN_TILE_K) {
		for (int i = t; i < RN_TILE_K * RN_TILE_M; i += RN_THREADS) {
			int kk = i % RN_TILE_K, mm = i / RN_TILE_K;
			As[kk][mm] = k0 + kk < K ? la(m0 + mm, k0 + kk) : 0.f;
		}
		for (int i = t; i < RN_TILE_K * RN_TILE_N; i += RN_THREADS) {
			int nn = i % RN_TILE_N, kk = i / RN_TILE_N;
			Bs[kk][nn] = k0 + kk < K ? lb(k0 + kk, n0 + nn) : 0.f;
		}
		__syncthreads();
#pragma unroll
		for (int kk = 0; kk < RN_TILE_K; kk++) {
			float a[4], b[4];
#pragma unroll
			for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
			for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
		}
		__syncthreads();
	}
}

// conv_fwd: y = relu(conv(x, w) + bias + res) as an implicit GEMM, M = CO
// output channels, N = batch x OH x OW positions, K = CI x KH x KW; the
// columns of x are gathered on the fly, never stored. Grid: (ceil(N/64),
// ceil(CO/64)).
template <int CI, int H, int W, int CO, int KH, int KW, int S, int P, int OH, int OW, bool BIAS, bool RES, bool RELU>
__device__ __noinline__ void conv_fwd(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                         const float* __restrict__ res, float* __restrict__ y, long long batch) {
	constexpr long long K = (long long)CI * KH * KW, HW = (long long)OH * OW;
	const long long N = batch * HW;
	const long long m0 = (long long)blockIdx.y * RN_TILE_M, n0 = (long long)blockIdx.x * RN_TILE_N;
	auto la = [&](long long m, long long k) -> float { return m < CO ? w[m * K + k] : 0.f; };
	auto lb = [&](long long k, long long n) -> float {
		if (n >= N) return 0.f;
		long long img = n / HW, p = n % HW;
		int oh = (int)(p / OW), ow = (int)(p % OW);
		int ci = (int)(k / (KH * KW)), r = (int)(k % (KH * KW));
		int ih = oh * S - P + r / KW, iw = ow * S - P + r % KW;
		if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.f;
		return x[((img * CI + ci) * H + ih) * W + iw];
	};
	float acc[4][4];
	gemm_tile(K, m0, n0, la, lb, acc);
	const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	for (int i = 0; i < 4; i++) {
		long long m = m0 + ty + 16 * i;
		if (m >= CO) continue;
		for (int j = 0; j < 4; j++) {
			long long n = n0 + tx + 16 * j;
			if (n >= N) continue;
			long long idx = ((n / HW) * CO + m) * HW + n % HW;
			float v = acc[i][j];
			if (BIAS) v += bias[m];
			if (RES) v += res[idx];
			if (RELU) v = fmaxf(v, 0.f);
			y[idx] = v;
		}
	}
}

// conv_bwd_data adds the input gradient: dx[ci, ih, iw] += sum over co, kh,
// kw of w[co, ci, kh, kw] dy[co, oh, ow] where oh S - P + kh = ih. M = CI,
// N = batch x H x W, K = CO x KH x KW. Grid: (ceil(N/64), ceil(CI/64)).
template <int CI, int H, int W, int CO, int KH, int KW, int S, int P, int OH, int OW>
__device__ __noinline__ void conv_bwd_data(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, long long batch) {
	constexpr long long K = (long long)CO * KH * KW, HW = (long long)H * W;
	const long long N = batch * HW;
	const long long m0 = (long long)blockIdx.y * RN_TILE_M, n0 = (long long)blockIdx.x * RN_TILE_N;
	auto la = [&](long long m, long long k) -> float {
		if (m >= CI) return 0.f;
		long long co = k / (KH * KW), r = k % (KH * KW);
		return w[(co * CI + m) * (KH * KW) + r];
	};
	auto lb = [&](long long k, long long n) -> float {
		if (n >= N) return 0.f;
		long long img = n / HW, p = n % HW;
		int ih = (int)(p / W), iw = (int)(p % W);
		int co = (int)(k / (KH * KW)), r = (int)(k % (KH * KW));
		int th = ih + P - r / KW, tw = iw + P - r % KW;
		if (th < 0 || tw < 0 || th % S != 0 || tw % S != 0) return 0.f;
		int oh = th / S, ow = tw / S;
		if (oh >= OH || ow >= OW) return 0.f;
		return dy[((img * CO + co) * OH + oh) * OW + ow];
	};
	float acc[4][4];
	gemm_tile(K, m0, n0, la, lb, acc);
	const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	for (int i = 0; i < 4; i++) {
		long long m = m0 + ty + 16 * i;
		if (m >= CI) continue;
		for (int j = 0; j < 4; j++) {
			long long n = n0 + tx + 16 * j;
			if (n >= N) continue;
			dx[((n / HW) * CI + m) * HW + n % HW] += acc[i][j];
		}
	}
}

// conv_bwd_weight: a partial weight gradient, dy[co, p] times the
// gathered input column k at p, summed over IMGS images. M = CO, N = CI x
// KH x KW, K = IMGS x OH x OW. The sum over the whole batch is a long, thin
// reduction (M and N are a few hundred, K is batch x OH x OW), so it is
// split by images: split s writes its partial to ws[s], and sum_splits
// (reduce_splits) adds the partials in a fixed order, which keeps the
// result deterministic.
// Grid: (ceil(N/64), ceil(CO/64) x ceil(batch/IMGS)).
template <int CI, int H, int W, int CO, int KH, int KW, int S, int P, int OH, int OW, int IMGS>
__device__ __noinline__ void conv_bwd_weight(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ ws, long long batch) {
	constexpr long long N = (long long)CI * KH * KW, HW = (long long)OH * OW;
	constexpr int MT = (CO + RN_TILE_M - 1) / RN_TILE_M;
	const long long split = blockIdx.y / MT, img0 = split * IMGS;
	const long long K = (batch - img0 < IMGS ? batch - img0 : IMGS) * HW;
	const long long m0 = (long long)(blockIdx.y % MT) * RN_TILE_M, n0 = (long long)blockIdx.x * RN_TILE_N;
	const float* xs = x + img0 * CI * H * W;
	const float* dys = dy + img0 * CO * HW;
	auto la = [&](long long m, long long k) -> float {
		if (m >= CO) return 0.f;
		return dys[((k / HW) * CO + m) * HW + k % HW];
	};
	auto lb = [&](long long k, long long n) -> float {
		if (n >= N) return 0.f;
		long long img = k / HW, p = k % HW;
		int oh = (int)(p / OW), ow = (int)(p % OW);
		int ci = (int)(n / (KH * KW)), r = (int)(n % (KH * KW));
		int ih = oh * S - P + r / KW, iw = ow * S - P + r % KW;
		if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.f;
		return xs[((img * CI + ci) * H + ih) * W + iw];
	};
	float acc[4][4];
	gemm_tile(K, m0, n0, la, lb, acc);
	float* out = ws + split * CO * N;
	const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	for (int i = 0; i < 4; i++) {
		long long m = m0 + ty + 16 * i;
		if (m >= CO) continue;
		for (int j = 0; j < 4; j++) {
			long long n = n0 + tx + 16 * j;
			if (n < N) out[m * N + n] = acc[i][j];
		}
	}
}

// reduce_splits: dst[i] = the sum of the splits partials ws[s][i], in order
// of s. One thread per element.
__device__ void reduce_splits(const float* __restrict__ ws, float* __restrict__ dst, long long n, long long splits) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= n) return;
	float v = 0.f;
	for (long long s = 0; s < splits; s++) v += ws[s * n + i];
	dst[i] = v;
}

// block_sum reduces v over the block (256 threads) in double; every thread
// gets the total.
__device__ double block_sum(double v) {
	__shared__ double part[RN_THREADS / 32];
	__shared__ double total;
	for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
	if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
	__syncthreads();
	if (threadIdx.x == 0) {
		double s = 0;
		for (int i = 0; i < RN_THREADS / 32; i++) s += part[i];
		total = s;
	}
	__syncthreads();
	double r = total;
	__syncthreads();
	return r;
}

// bn_part is the slice [lo, hi) of a channel's batch x HW values that
// block (c, part) of a batch norm works on: the channel is split into
// gridDim.y parts so that a few channels with many values each (the first
// stage at a large batch) still fill the GPU.
struct bn_part {
	long long lo, hi;
};

__device__ __forceinline__ bn_part bn_slice(long long count) {
	const long long parts = gridDim.y, chunk = (count + parts - 1) / parts;
	const long long lo = (long long)blockIdx.y * chunk;
	return bn_part{lo, lo + chunk < count ? lo + chunk : count};
}

// bn_partials returns, to every thread, the sum of slot k of the parts'
// partials of channel c in ws[c][part][2], added in order of part so that
// the result does not depend on which block ran first.
__device__ double bn_partials(const double* ws, int c, int k) {
	__shared__ double total;
	if (threadIdx.x == 0) {
		const long long parts = gridDim.y;
		double s = 0;
		for (long long p = 0; p < parts; p++) s += ws[(c * parts + p) * 2 + k];
		total = s;
	}
	__syncthreads();
	double r = total;
	__syncthreads();
	return r;
}

// bn_train: block (c, part) works on one part of channel c, in three
// launches (phase 0, 1, 2): the parts' sums, then the sums of squared
// deviations from the batch mean (two passes, in double), then y =
// relu((x - mean) invstd gamma + beta + res), part 0 also updating the
// running statistics with momentum (unbiased variance) as PyTorch does.
// Grid: (C, parts).
template <int C, int HW, bool RES, bool RELU>
__device__ __noinline__ void bn_train(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
                         float* __restrict__ run_mean, float* __restrict__ run_var, float* __restrict__ save_mean,
                         float* __restrict__ save_invstd, const float* __restrict__ res, float* __restrict__ y,
                         double* __restrict__ ws, long long batch, double eps, double momentum, long long phase) {
	const int c = blockIdx.x;
	const long long count = batch * HW, slot = ((long long)c * gridDim.y + blockIdx.y) * 2;
	const bn_part r = bn_slice(count);
	if (phase == 0) {
		double s = 0;
		for (long long i = r.lo + threadIdx.x; i < r.hi; i += RN_THREADS) s += x[((i / HW) * C + c) * HW + i % HW];
		s = block_sum(s);
		if (threadIdx.x == 0) ws[slot] = s;
		return;
	}
	const double mean = bn_partials(ws, c, 0) / count;
	if (phase == 1) {
		double q = 0;
		for (long long i = r.lo + threadIdx.x; i < r.hi; i += RN_THREADS) {
			double d = x[((i / HW) * C + c) * HW + i % HW] - mean;
			q += d * d;
		}
		q = block_sum(q);
		if (threadIdx.x == 0) ws[slot + 1] = q;
		return;
	}
	const double sq = bn_partials(ws, c, 1);
	const double var = sq / count;
	const double invstd = 1.0 / sqrt(var + eps);
	if (blockIdx.y == 0 && threadIdx.x == 0) {
		save_mean[c] = (float)mean;
		save_invstd[c] = (float)invstd;
		const double unbiased = count > 1 ? sq / (count - 1) : var;
		const float mo = (float)momentum;
		run_mean[c] = (1.f - mo) * run_mean[c] + mo * (float)mean;
		run_var[c] = (1.f - mo) * run_var[c] + mo * (float)unbiased;
	}
	const float m32 = (float)mean, scale = (float)invstd * gamma[c], b = beta[c];
	for (long long i = r.lo + threadIdx.x; i < r.hi; i += RN_THREADS) {
		long long idx = ((i / HW) * C + c) * HW + i % HW;
		float v = (x[idx] - m32) * scale + b;
		if (RES) v += res[idx];
		if (RELU) v = fmaxf(v, 0.f);
		y[idx] = v;
	}
}

// bn_backward: block (c, part) works on one part of channel c, in two
// launches: phase 0 sums the part's gradient and gradient times x-hat,
// phase 1 writes dgamma and dbeta (part 0) and the gradients of its part.
// The ReLU's mask is the sign of the saved output y; the gradient reaching
// the add also goes to dres; dgamma and dbeta are overwritten, dx and dres
// accumulate. Grid: (C, parts).
template <int C, int HW, bool RELU, bool DRES, bool DX>
__device__ __noinline__ void bn_backward(const float* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ y,
                            const float* __restrict__ gamma, const float* __restrict__ save_mean,
                            const float* __restrict__ save_invstd, float* __restrict__ dgamma, float* __restrict__ dbeta,
                            float* __restrict__ dx, float* __restrict__ dres, double* __restrict__ ws, long long batch, long long phase) {
	const int c = blockIdx.x;
	const long long count = batch * HW, slot = ((long long)c * gridDim.y + blockIdx.y) * 2;
	const bn_part r = bn_slice(count);
	const double mean = save_mean[c], invstd = save_invstd[c];
	if (phase == 0) {
		double sg = 0, sgx = 0;
		for (long long i = r.lo + threadIdx.x; i < r.hi; i += RN_THREADS) {
			long long idx = ((i / HW) * C + c) * HW + i % HW;
			float g = dy[idx];
			if (RELU && y[idx] <= 0.f) continue;
			sg += g;
			sgx += g * (x[idx] - mean) * invstd;
		}
		sg = block_sum(sg);
		sgx = block_sum(sgx);
		if (threadIdx.x == 0) {
			ws[slot] = sg;
			ws[slot + 1] = sgx;
		}
		return;
	}
	const double sum_g = bn_partials(ws, c, 0), sum_gxhat = bn_partials(ws, c, 1);
	if (blockIdx.y == 0 && threadIdx.x == 0) {
		dgamma[c] = (float)sum_gxhat;
		dbeta[c] = (float)sum_g;
	}
	const double k = gamma[c] * invstd, mean_g = sum_g / count, mean_gxhat = sum_gxhat / count;
	for (long long i = r.lo + threadIdx.x; i < r.hi; i += RN_THREADS) {
		long long idx = ((i / HW) * C + c) * HW + i % HW;
		float g = dy[idx];
		if (RELU && y[idx] <= 0.f) g = 0.f;
		if (DRES) dres[idx] += g;
		if (DX) {
			double xhat = (x[idx] - mean) * invstd;
			dx[idx] += (float)(k * (g - mean_g - xhat * mean_gxhat));
		}
	}
}

// fold_bn: the inference weights of a conv followed by a batch norm, as
// nn.FoldBN: s = gamma / sqrt(var + eps), w' = w s, b' = (bias - mean) s +
// beta. One thread per output channel. Grid: ceil(CO/256).
template <int CO, int PER, bool BIAS>
__device__ void fold_bn(float* __restrict__ fw, float* __restrict__ fb, const float* __restrict__ w,
                        const float* __restrict__ bias, const float* __restrict__ gamma, const float* __restrict__ beta,
                        const float* __restrict__ mean, const float* __restrict__ var, double eps) {
	const int o = blockIdx.x * RN_THREADS + threadIdx.x;
	if (o >= CO) return;
	const double s = (double)gamma[o] / sqrt((double)var[o] + eps);
	for (int i = 0; i < PER; i++) fw[(long long)o * PER + i] = (float)(w[(long long)o * PER + i] * s);
	const double b = BIAS ? bias[o] : 0.0;
	fb[o] = (float)((b - mean[o]) * s + beta[o]);
}

// maxpool: the first maximum of each window in scan order; padding never
// wins. One thread per output. Grid: ceil(batch C OH OW / 256).
template <int C, int H, int W, int KH, int KW, int S, int P, int OH, int OW>
__device__ int maxpool_arg(const float* plane, int oh, int ow) {
	int best = -1;
	float bv = 0.f;
	for (int kh = 0; kh < KH; kh++) {
		int ih = oh * S - P + kh;
		if (ih < 0 || ih >= H) continue;
		for (int kw = 0; kw < KW; kw++) {
			int iw = ow * S - P + kw;
			if (iw < 0 || iw >= W) continue;
			float v = plane[ih * W + iw];
			if (best < 0 || v > bv || v != v) {
				best = ih * W + iw;
				bv = v;
			}
		}
	}
	return best;
}

template <int C, int H, int W, int KH, int KW, int S, int P, int OH, int OW>
__device__ void maxpool_fwd(const float* __restrict__ x, float* __restrict__ y, long long batch) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * C * OH * OW) return;
	const long long plane = i / (OH * OW);
	const int p = (int)(i % (OH * OW));
	const float* xp = x + plane * H * W;
	y[i] = xp[maxpool_arg<C, H, W, KH, KW, S, P, OH, OW>(xp, p / OW, p % OW)];
}

// maxpool_bwd adds each output gradient at its window's maximum; windows
// overlap, so the adds are atomic. One thread per output.
template <int C, int H, int W, int KH, int KW, int S, int P, int OH, int OW>
__device__ void maxpool_bwd(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx, long long batch) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * C * OH * OW) return;
	const long long plane = i / (OH * OW);
	const int p = (int)(i % (OH * OW));
	const int a = maxpool_arg<C, H, W, KH, KW, S, P, OH, OW>(x + plane * H * W, p / OW, p % OW);
	atomicAdd(dx + plane * H * W + a, dy[i]);
}

// avgpool_fwd: one thread per plane.
template <int HW>
__device__ void avgpool_fwd(const float* __restrict__ x, float* __restrict__ y, long long planes) {
	const long long p = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (p >= planes) return;
	double s = 0;
	for (int i = 0; i < HW; i++) s += x[p * HW + i];
	y[p] = (float)(s / HW);
}

// avgpool_bwd adds dy / HW to every element of its plane. One thread per element.
template <int HW>
__device__ void avgpool_bwd(const float* __restrict__ dy, float* __restrict__ dx, long long planes) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= planes * HW) return;
	dx[i] += dy[i / HW] / (float)HW;
}

// linear_fwd: y[n, o] = b[o] + sum_i x[n, i] w[o, i]. One thread per output.
template <int IN, int OUT>
__device__ void linear_fwd(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                           float* __restrict__ y, long long batch) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * OUT) return;
	const long long n = i / OUT;
	const int o = (int)(i % OUT);
	float s = 0.f;
	for (int k = 0; k < IN; k++) s = fmaf(x[n * IN + k], w[(long long)o * IN + k], s);
	y[i] = s + b[o];
}

// linear_bwd_params overwrites dw[o, i] = sum_n dy[n, o] x[n, i] and db.
// One thread per weight (and the first IN... threads of each row do db).
template <int IN, int OUT>
__device__ void linear_bwd_params(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dw,
                                  float* __restrict__ db, long long batch) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= (long long)OUT * IN) return;
	const int o = (int)(i / IN), k = (int)(i % IN);
	float s = 0.f, sb = 0.f;
	for (long long n = 0; n < batch; n++) {
		float g = dy[n * OUT + o];
		s = fmaf(g, x[n * IN + k], s);
		sb += g;
	}
	dw[i] = s;
	if (k == 0) db[o] = sb;
}

// linear_bwd_data adds dx[n, i] += sum_o dy[n, o] w[o, i]. One thread per input.
template <int IN, int OUT>
__device__ void linear_bwd_data(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, long long batch) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * IN) return;
	const long long n = i / IN;
	const int k = (int)(i % IN);
	float s = 0.f;
	for (int o = 0; o < OUT; o++) s = fmaf(dy[n * OUT + o], w[(long long)o * IN + k], s);
	dx[i] += s;
}

// shortcut_a: x[:, :, ::S, ::S] with LO zero channels before and HI after.
// One thread per output element.
template <int C, int H, int W, int S, int OH, int OW, int LO, int HI>
__device__ void shortcut_a_fwd(const float* __restrict__ x, float* __restrict__ y, long long batch) {
	constexpr int OC = C + LO + HI;
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * OC * OH * OW) return;
	const long long n = i / ((long long)OC * OH * OW);
	const int r = (int)(i % ((long long)OC * OH * OW));
	const int oc = r / (OH * OW), p = r % (OH * OW);
	const int c = oc - LO;
	y[i] = (c < 0 || c >= C) ? 0.f : x[((n * C + c) * H + (p / OW) * S) * W + (p % OW) * S];
}

// shortcut_a_bwd adds the gradient of the kept positions. One thread per
// kept output element.
template <int C, int H, int W, int S, int OH, int OW, int LO, int HI>
__device__ void shortcut_a_bwd(const float* __restrict__ dy, float* __restrict__ dx, long long batch) {
	constexpr int OC = C + LO + HI;
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= batch * C * OH * OW) return;
	const long long n = i / ((long long)C * OH * OW);
	const int r = (int)(i % ((long long)C * OH * OW));
	const int c = r / (OH * OW), p = r % (OH * OW);
	dx[((n * C + c) * H + (p / OW) * S) * W + (p % OW) * S] += dy[((n * OC + c + LO) * OH * OW) + p];
}

// add_into: dst += src. One thread per element.
__device__ void add_into(float* __restrict__ dst, const float* __restrict__ src, long long n) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i < n) dst[i] += src[i];
}

// relu_bwd: dx += dy where y > 0.
__device__ void relu_bwd(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ y, long long n) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i < n && y[i] > 0.f) dx[i] += dy[i];
}

// relu_fwd: y = max(x, 0).
__device__ void relu_fwd(const float* __restrict__ x, float* __restrict__ y, long long n) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i < n) y[i] = fmaxf(x[i], 0.f);
}

// softmax_xent: one thread per image; writes the gradient (softmax -
// one-hot) / batch and the image's loss, summed on the host in double.
template <int CLASSES>
__device__ void softmax_xent(const float* __restrict__ logits, const long long* __restrict__ labels,
                             float* __restrict__ dlogits, double* __restrict__ losses, long long batch) {
	const long long n = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (n >= batch) return;
	const float* row = logits + n * CLASSES;
	double mx = row[0];
	for (int j = 0; j < CLASSES; j++) mx = fmax(mx, (double)row[j]);
	double s = 0;
	for (int j = 0; j < CLASSES; j++) s += exp((double)row[j] - mx);
	const double lse = log(s) + mx;
	const long long label = labels[n];
	losses[n] = lse - row[label];
	for (int j = 0; j < CLASSES; j++) {
		double p = exp((double)row[j] - lse);
		if (j == label) p -= 1;
		dlogits[n * CLASSES + j] = (float)(p / batch);
	}
}

// sgd: PyTorch's SGD with momentum and weight decay; on the first step the
// buffer starts as the gradient. One thread per trainable float.
__device__ void sgd(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ buf, long long n,
                    double lr, double momentum, double weight_decay, long long first) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i >= n) return;
	float d = g[i] + (float)weight_decay * p[i];
	if (momentum != 0) {
		buf[i] = first ? d : (float)momentum * buf[i] + d;
		d = buf[i];
	}
	p[i] -= (float)lr * d;
}

// zero: the first contribution to a gradient buffer clears it.
__device__ void zero(float* __restrict__ p, long long n) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i < n) p[i] = 0.f;
}

// add_fwd: y = a + b.
__device__ void add_fwd(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y, long long n) {
	const long long i = (long long)blockIdx.x * RN_THREADS + threadIdx.x;
	if (i < n) y[i] = a[i] + b[i];
}

// conv_bwd_bias overwrites db[c] with the sum of dy over the batch and the
// plane. One block per channel.
template <int C, int HW>
__device__ void conv_bwd_bias(const float* __restrict__ dy, float* __restrict__ db, long long batch) {
	const int c = blockIdx.x;
	double s = 0;
	for (long long i = threadIdx.x; i < batch * HW; i += RN_THREADS) s += dy[((i / HW) * C + c) * HW + i % HW];
	s = block_sum(s);
	if (threadIdx.x == 0) db[c] = (float)s;
}
