// SPDX-License-Identifier: Apache-2.0
// Reduced electrochemical cell model: a single-particle model with electrolyte dynamics (SPMe),
// particle diffusion reduced by Pade approximation, electrolyte diffusion by modal truncation.
//
// Equations (docs/spme.md states each once, with its source). Current i > 0 is DISCHARGE;
// sample k covers (t_{k-1}, t_k], current held over it (zero-order hold), as in model/ecm.hpp.
//
// SPMe: Marquis, Sulzer, Timms, Please, Chapman, "An asymptotic derivation of a single particle
// model with electrolyte", J. Electrochem. Soc. 166 (2019) A3693 (hereafter [M]): one particle per
// electrode with a uniform reaction; electrolyte concentration from a linear diffusion equation;
// terminal voltage from x-averaged overpotentials ([M] eqs. 4.14-4.16, dimensional form).
//
//   interfacial current density   j_n = i / (A a_n L_n),  j_p = -i / (A a_p L_p),  a = 3 eps_s / R
//   bulk stoichiometry            x_n(z) = x_n,100 + (z - 1) dx_n,  x_p(z) = x_p,100 + (z - 1) dx_p
//       (z = SOC on the nominal-capacity scale; dx = +-3600 Q / (F eps_s L A c_max): lithium in the
//        two electrodes is conserved by construction)
//   SOC                           z_k = z_{k-1} - i dt / (3600 Q)
//   particle diffusion (sphere, Fick, flux N = j / F at r = R): the transfer function from j to
//       the surface stoichiometry is [Jacobsen & West, Electrochim. Acta 40 (1995) 255]
//       x_s - x_bulk = -(R / (D c_max F)) j G(s R^2 / D),
//       G(s^) = tanh(b) / (b - tanh(b)) - 3 / s^,  b = sqrt(s^)  (the -3/s^ is the bulk, above)
//     approximated by its [N/N] Pade approximant at s^ = 0 (Forman, Bashash, Stein, Fathy,
//     J. Electrochem. Soc. 158 (2011) A93; Moura et al., IEEE Trans. Control Syst. Technol. 25
//     (2017) 453, for the SPMe; the [0/1] approximant is the polynomial profile of
//     Subramanian, Diwakar, Tapriyal, J. Electrochem. Soc. 152 (2005) A2002). G is a Stieltjes
//     function, so the approximant has real negative poles and positive residues:
//       G(s^) ~ d + sum_k r_k / (s^ + p_k),
//     each pole one first-order state w_k, discretised exactly (ZOH):
//       w_k' = a_k w_k + (1 - a_k) (-(R/(D c_max F)) r_k / p_k) j,  a_k = exp(-p_k D dt / R^2)
//       x_s = x_bulk + sum_k w_k - (R / (D c_max F)) d j
//   electrolyte ([M] eq. 4.12): eps dc/dt = d/dx (D_e eps^b dc/dx) + (1 - t+) a j / F, discretised
//     by finite volumes and reduced to its NE slowest modes by the fit (python/cellsense/spme.py);
//     each mode is a first-order lag of the current, e_k' = a_k e_k + (1 - a_k) i,
//     a_k = exp(-dt / tau_k), and the concentrations read out are
//       c_o = c_e0 + sum_k g_ko e_k + d_o i   (o = negative average, positive average, negative /
//     separator interface; d_o = the truncated modes' steady state, "static correction")
//   kinetics (symmetric Butler-Volmer, alpha = 1/2): eta = (2 R_g T / F) asinh(j / (2 j0)),
//       j0 = j0_ref Arr(E_j0) sqrt(c_e / c_e0) sqrt(x_s (1 - x_s) / (1/4))
//   Arrhenius: Arr(E) = exp(E / R_g (1 / T_ref - 1 / T)) on D_s, j0, D_e (time constants) and kappa
//   terminal voltage ([M] eq. 4.16):
//       v = U_p(x_s,p) - U_n(x_s,n) + eta_p - eta_n + 2 (1 - t+) f (R_g T / F) ln(c_p / c_n)
//           - i (R_e / Arr(E_kappa) + R_s + R_contact)
//       R_e = (L_n / (3 kappa_n) + L_s / kappa_s + L_p / (3 kappa_p)) / A, kappa_r = kappa eps_r^b_r
//       R_s = (L_n / (3 sigma_n) + L_p / (3 sigma_p)) / A
//   negative surface potential against lithium at the separator side (the plating margin):
//       phi_n(L_n) = U_n(x_s,n) + eta_n - (phi_s(L_n) - mean phi_s) ... written out in
//       anode_surface_potential(): the x-averaged U_n + eta_n plus the first-order
//       (uniform-reaction) solid and electrolyte potential profiles of [M] (sec. 4.2) evaluated at
//       x = L_n:  + i L_n / (3 kappa_n A) - i L_n / (6 sigma_n A)
//                 - 2 (1 - t+) f (R_g T / F) ln(c_sep / c_n)
// Open-circuit potentials are tables over stoichiometry (linear interpolation, continued linearly
// beyond the ends). The transition is linear in the state for a sample (F diagonal, independent
// of x): the EKF's F is exact and the UKF's time update is the closed form (filter/ukf.hpp). The
// measurement is nonlinear in every state (OCPs, kinetics, ln c_e), so it declares no
// measurement structure and the filters use their general paths.
// Not modelled: a lumped thermal state (the temperature is measured every sample and is an input;
// docs/spme.md), entropic OCP change, SEI / plating side reactions, concentration dependence of
// D_e and kappa (evaluated at c_e0, as in [M]).
#pragma once

#include <cmath>
#include <cstdint>

#include "cellsense/math/exp.hpp"
#include "cellsense/math/log.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace model {

/// Why an SPMe parameter set was refused (validate()).
enum class SpmeParamError : std::uint8_t {
  kOk = 0,
  kNonFinite,          ///< a NaN or Inf anywhere in the parameters
  kNonPositive,        ///< a quantity that must be > 0 is not (capacity, area, lengths, D, j0, ...)
  kOcpTable,           ///< OCP table size outside [2, MaxOcp] or breakpoints not strictly increasing
  kStoichiometry,      ///< the bulk stoichiometry leaves (0, 1) for SOC in [0, 1]
  kElectrolyte,        ///< transference number outside [0, 1), or a mode time constant <= 0
  kNegativeResistance, ///< a resistance below 0
  kLimits,             ///< a reading range with min >= max
};

/// The rule a SpmeParamError stands for, as a message. No heap.
constexpr const char* spme_param_error_message(SpmeParamError e) {
  switch (e) {
    case SpmeParamError::kOk: return "ok";
    case SpmeParamError::kNonFinite: return "a parameter is NaN or infinite";
    case SpmeParamError::kNonPositive: return "a quantity that must be > 0 is not (capacity, area, lengths, D, j0, ...)";
    case SpmeParamError::kOcpTable: return "OCP table: 2..MaxOcp strictly increasing stoichiometry breakpoints needed";
    case SpmeParamError::kStoichiometry: return "bulk stoichiometry leaves (0, 1) for SOC in [0, 1]";
    case SpmeParamError::kElectrolyte: return "transference number outside [0, 1) or a mode time constant <= 0";
    case SpmeParamError::kNegativeResistance: return "a resistance is negative";
    case SpmeParamError::kLimits: return "a reading range has min >= max";
  }
  return "unknown";
}

namespace spme_constants {
constexpr double kFaraday_C_per_mol = 96485.33212;  ///< F (C/mol), CODATA 2018 (exact)
constexpr double kGas_J_per_mol_K = 8.314462618;    ///< R_g (J/(mol K)), CODATA 2018 (exact)
constexpr double kZeroCelsius_K = 273.15;
}  // namespace spme_constants

/// One electrode of the SPMe.
template <typename T, int MaxOcp>
struct SpmeElectrode {
  T thickness_m;                       ///< L (m)
  T particle_radius_m;                 ///< R (m)
  T active_fraction;                   ///< eps_s, active material volume fraction (1)
  T max_concentration_mol_m3;          ///< c_max (mol/m^3)
  T diffusivity_m2_s;                  ///< D_s at the reference temperature (m^2/s)
  T diffusivity_activation_J_mol;      ///< E of D_s (J/mol); 0 = temperature independent
  T exchange_current_A_m2;             ///< j0 at c_e0, x_s = 1/2 and the reference temperature (A/m^2)
  T exchange_current_activation_J_mol; ///< E of j0 (J/mol)
  T stoichiometry_full;                ///< bulk stoichiometry at SOC 1 (1)
  T stoichiometry_per_soc;             ///< d x_bulk / d SOC (1; > 0 negative, < 0 positive)
  int n_ocp;                           ///< OCP table points, 2..MaxOcp
  T ocp_stoichiometry[MaxOcp];         ///< OCP breakpoints, strictly increasing (1)
  T ocp_V[MaxOcp];                     ///< open-circuit potential against Li/Li+ (V)
};

/// Parameters of the SPMe for one cell (SI units). On an MCU this lives in flash (const); the
/// estimator keeps a pointer to it. NE = electrolyte modes kept.
template <typename T, int NE = 2, int MaxOcp = 96>
struct SpmeParams {
  static_assert(NE >= 1 && NE <= 4, "1 to 4 electrolyte modes");
  static constexpr int kElectrolyteModes = NE;
  static constexpr int kMaxOcp = MaxOcp;
  using Electrode = SpmeElectrode<T, MaxOcp>;
  /// Electrolyte read-outs: average over the negative, over the positive, and at the negative /
  /// separator interface.
  enum Readout { kNegative = 0, kPositive = 1, kSeparator = 2, kReadouts = 3 };

  T capacity_Ah;                       ///< nominal capacity Q, defines the SOC scale (A h)
  T area_m2;                           ///< electrode area A (m^2, all parallel layers)
  T reference_temperature_K;           ///< T_ref of every Arrhenius factor (K)
  Electrode negative;
  Electrode positive;
  T electrolyte_concentration_mol_m3;  ///< c_e0, initial / equilibrium (mol/m^3)
  T transference_number;               ///< t+ (1)
  T thermodynamic_factor;              ///< f (1)
  T electrolyte_diffusivity_activation_J_mol;   ///< E of D_e (scales every mode time constant)
  T electrolyte_conductivity_activation_J_mol;  ///< E of kappa
  T electrolyte_tau_s[NE];             ///< mode time constants at T_ref (s)
  T electrolyte_gain_mol_m3_per_A[NE][kReadouts];  ///< steady-state read-out per mode per A
  T electrolyte_feedthrough_mol_m3_per_A[kReadouts]; ///< truncated modes' steady state per A
  T electrolyte_resistance_Ohm;        ///< R_e at T_ref (Ohm)
  T negative_electrolyte_resistance_Ohm;  ///< L_n / (3 kappa_n A) at T_ref (Ohm)
  T solid_resistance_Ohm;              ///< R_s (Ohm)
  T negative_solid_resistance_Ohm;     ///< L_n / (6 sigma_n A) (Ohm)
  T contact_resistance_Ohm;            ///< R_contact (Ohm)
  // Plausibility ranges: a reading outside them is rejected, not absorbed.
  T voltage_min_V;
  T voltage_max_V;
  T current_min_A;
  T current_max_A;
  T temperature_min_degC;
  T temperature_max_degC;
};

namespace detail {
template <typename T>
bool spme_finite_all(const T* v, int n) {
  for (int i = 0; i < n; ++i) {
    if (!math::is_finite(v[i])) { return false; }
  }
  return true;
}

template <typename T, int MaxOcp>
SpmeParamError validate_electrode(const SpmeElectrode<T, MaxOcp>& e) {
  const T s[] = {e.thickness_m, e.particle_radius_m, e.active_fraction, e.max_concentration_mol_m3,
                 e.diffusivity_m2_s, e.diffusivity_activation_J_mol, e.exchange_current_A_m2,
                 e.exchange_current_activation_J_mol, e.stoichiometry_full, e.stoichiometry_per_soc};
  if (!spme_finite_all(s, 10)) { return SpmeParamError::kNonFinite; }
  if (e.n_ocp < 2 || e.n_ocp > MaxOcp) { return SpmeParamError::kOcpTable; }
  if (!spme_finite_all(e.ocp_stoichiometry, e.n_ocp) || !spme_finite_all(e.ocp_V, e.n_ocp)) {
    return SpmeParamError::kNonFinite;
  }
  if (!(e.thickness_m > T(0)) || !(e.particle_radius_m > T(0)) || !(e.active_fraction > T(0)) ||
      !(e.active_fraction < T(1)) || !(e.max_concentration_mol_m3 > T(0)) || !(e.diffusivity_m2_s > T(0)) ||
      !(e.exchange_current_A_m2 > T(0))) {
    return SpmeParamError::kNonPositive;
  }
  for (int i = 1; i < e.n_ocp; ++i) {
    if (!(e.ocp_stoichiometry[i] > e.ocp_stoichiometry[i - 1])) { return SpmeParamError::kOcpTable; }
  }
  const T x0 = e.stoichiometry_full - e.stoichiometry_per_soc;  // SOC 0
  if (!(e.stoichiometry_full > T(0) && e.stoichiometry_full < T(1) && x0 > T(0) && x0 < T(1)) ||
      !(e.stoichiometry_per_soc > T(0) || e.stoichiometry_per_soc < T(0))) {
    return SpmeParamError::kStoichiometry;
  }
  return SpmeParamError::kOk;
}
}  // namespace detail

/// Check a parameter set before use. Returns the first problem found.
template <typename T, int NE, int MaxOcp>
SpmeParamError validate(const SpmeParams<T, NE, MaxOcp>& p) {
  using P = SpmeParams<T, NE, MaxOcp>;
  const T s[] = {p.capacity_Ah, p.area_m2, p.reference_temperature_K, p.electrolyte_concentration_mol_m3,
                 p.transference_number, p.thermodynamic_factor, p.electrolyte_diffusivity_activation_J_mol,
                 p.electrolyte_conductivity_activation_J_mol, p.electrolyte_resistance_Ohm,
                 p.negative_electrolyte_resistance_Ohm, p.solid_resistance_Ohm, p.negative_solid_resistance_Ohm,
                 p.contact_resistance_Ohm, p.voltage_min_V, p.voltage_max_V, p.current_min_A, p.current_max_A,
                 p.temperature_min_degC, p.temperature_max_degC};
  if (!detail::spme_finite_all(s, static_cast<int>(sizeof s / sizeof s[0])) ||
      !detail::spme_finite_all(p.electrolyte_tau_s, NE) ||
      !detail::spme_finite_all(&p.electrolyte_gain_mol_m3_per_A[0][0], NE * P::kReadouts) ||
      !detail::spme_finite_all(p.electrolyte_feedthrough_mol_m3_per_A, P::kReadouts)) {
    return SpmeParamError::kNonFinite;
  }
  const SpmeParamError en = detail::validate_electrode(p.negative);
  if (en != SpmeParamError::kOk) { return en; }
  const SpmeParamError ep = detail::validate_electrode(p.positive);
  if (ep != SpmeParamError::kOk) { return ep; }
  if (!(p.capacity_Ah > T(0)) || !(p.area_m2 > T(0)) || !(p.reference_temperature_K > T(0)) ||
      !(p.electrolyte_concentration_mol_m3 > T(0)) || !(p.thermodynamic_factor > T(0))) {
    return SpmeParamError::kNonPositive;
  }
  if (!(p.transference_number >= T(0) && p.transference_number < T(1))) { return SpmeParamError::kElectrolyte; }
  for (int k = 0; k < NE; ++k) {
    if (!(p.electrolyte_tau_s[k] > T(0))) { return SpmeParamError::kElectrolyte; }
  }
  if (!(p.electrolyte_resistance_Ohm >= T(0)) || !(p.negative_electrolyte_resistance_Ohm >= T(0)) ||
      !(p.solid_resistance_Ohm >= T(0)) || !(p.negative_solid_resistance_Ohm >= T(0)) ||
      !(p.contact_resistance_Ohm >= T(0))) {
    return SpmeParamError::kNegativeResistance;
  }
  if (!(p.voltage_min_V < p.voltage_max_V) || !(p.current_min_A < p.current_max_A) ||
      !(p.temperature_min_degC < p.temperature_max_degC)) {
    return SpmeParamError::kLimits;
  }
  return SpmeParamError::kOk;
}

/// [N/N] Pade approximants at s^ = 0 of the particle's surface transfer function G(s^) (header
/// comment), in partial fractions: poles p_k, residues r_k, feedthrough d. Derived from the
/// Taylor series G = 1/5 - s^/175 + 2 s^2/7875 - 37 s^3/3031875 + ... (exact rationals; derivation
/// in python/cellsense/spme.py, pade_particle(), which the tests compare with these numbers).
/// [3/3]: G = (1/5 + s/119 + 2 s^2/26775 + s^3/11486475) / (1 + 6 s/85 + 2 s^2/1785 + 4 s^3/1044225).
template <int NP>
struct PadeParticle;
template <>
struct PadeParticle<1> {
  static constexpr double pole[1] = {22.5};
  static constexpr double residue[1] = {2.8928571428571428571};
  static constexpr double feedthrough = 0.071428571428571428571;  // 1/14
};
template <>
struct PadeParticle<2> {
  static constexpr double pole[2] = {82.426383646510678105, 20.240283020155988562};
  static constexpr double residue[2] = {5.1681950447599621200, 2.0293358194375687442};
  static constexpr double feedthrough = 0.037037037037037037037;  // 1/27
};
template <>
struct PadeParticle<3> {
  static constexpr double pole[3] = {211.04603415573487544, 61.262892827187093124, 20.191073017078031440};
  static constexpr double residue[3] = {8.5399098171271726482, 2.3120781596951083310, 2.0002847504504462936};
  static constexpr double feedthrough = 0.022727272727272727273;  // 1/44
};

/// Process noise: continuous-time random-walk densities plus current-sensor noise through the
/// input (Q = diag(q^2) dt + b b^T sigma_i^2, b = df/di; Simon, "Optimal State Estimation", sec. 7.1).
template <typename T>
struct SpmeProcessNoise {
  T soc_per_sqrt_s;             ///< SOC random walk (1/sqrt(s))
  T particle_per_sqrt_s;        ///< particle mode random walk (stoichiometry/sqrt(s))
  T electrolyte_A_per_sqrt_s;   ///< electrolyte mode random walk (A/sqrt(s))
  T current_sigma_A;            ///< current sensor noise, 1 sigma (A)
};

/// What the SPMe reports besides the terminal voltage (at a state and a sample's current).
template <typename T>
struct SpmeOutputs {
  T voltage_V;                       ///< terminal voltage (V)
  T soc;                             ///< SOC from the bulk stoichiometry (1)
  T negative_surface_stoichiometry;  ///< x_s,n (1)
  T positive_surface_stoichiometry;  ///< x_s,p (1)
  T anode_surface_potential_V;       ///< phi_s - phi_e of the negative at the separator, vs Li/Li+ (V)
  T electrolyte_negative_mol_m3;     ///< c_e averaged over the negative (mol/m^3)
  T electrolyte_positive_mol_m3;     ///< c_e averaged over the positive (mol/m^3)
  T electrolyte_separator_mol_m3;    ///< c_e at the negative / separator interface (mol/m^3)
};

/// The SPMe as the filters see it. NP = Pade order (states per electrode, 1..3), NE = electrolyte
/// modes. State: [soc, w_n1..w_nNP, w_p1..w_pNP, e_1..e_NE].
template <typename T, int NP = 3, int NE = 2, int MaxOcp = 96>
class SpmeModel {
  static_assert(NP >= 1 && NP <= 3, "Pade order 1, 2 or 3");

 public:
  using Scalar = T;
  using Params = SpmeParams<T, NE, MaxOcp>;
  using Noise = SpmeProcessNoise<T>;
  using Outputs = SpmeOutputs<T>;
  static constexpr int kParticleStates = NP;
  static constexpr int kElectrolyteModes = NE;
  static constexpr int kStates = 1 + 2 * NP + NE;
  /// F is diagonal and independent of x (kDiagonalF, kLinearTransition); the measurement has no
  /// declared structure (nonlinear in every state), so the filters use their general paths there.
  static constexpr bool kDiagonalF = true;
  static constexpr bool kLinearTransition = true;
  using State = math::Vector<T, kStates>;
  using Cov = math::Matrix<T, kStates, kStates>;
  using Row = math::Matrix<T, 1, kStates>;

  /// Named state indices.
  struct Idx {
    static constexpr int soc = 0;                        ///< SOC (1)
    static constexpr int negative0 = 1;                  ///< first negative particle mode (stoichiometry)
    static constexpr int positive0 = 1 + NP;             ///< first positive particle mode (stoichiometry)
    static constexpr int electrolyte0 = 1 + 2 * NP;      ///< first electrolyte mode (A, filtered current)
    static constexpr int negative(int k) { return negative0 + k; }
    static constexpr int positive(int k) { return positive0 + k; }
    static constexpr int electrolyte(int k) { return electrolyte0 + k; }
  };

  /// No discrete state outside the covariance.
  struct Aux {};

  /// One sample's discretisation and the measurement's per-sample constants.
  struct Step {
    T dt_s;
    T current_A;
    T temperature_degC;
    T soc_gain;                 ///< dt / (3600 Q): dz = -soc_gain i
    T a[kStates];               ///< diag(F)
    T b[kStates];               ///< df/di
    T j_negative_A_m2;          ///< j_n at this current
    T j_positive_A_m2;          ///< j_p at this current
    T feed_negative;            ///< -(R/(D c_max F)) d j_n: surface stoichiometry feedthrough (1)
    T feed_positive;
    T j0_scale_negative;        ///< j0 = j0_scale sqrt(c_e x (1 - x))
    T j0_scale_positive;
    T two_rt_over_f_V;          ///< 2 R_g T / F (V)
    T concentration_coeff_V;    ///< 2 (1 - t+) f R_g T / F (V)
    T ohmic_V;                  ///< i (R_e(T) + R_s + R_contact) (V)
    T anode_ohmic_V;            ///< i (L_n/(3 kappa_n A))(T) - i L_n/(6 sigma_n A) (V)
    T electrolyte_feed_mol_m3[3];  ///< d_o i
  };

  SpmeModel() = default;
  SpmeModel(const Params* params, const Noise& noise) : params_(params), noise_(noise) {}

  const Params& params() const { return *params_; }
  const Noise& noise() const { return noise_; }

  /// Discretise for one sample at the measured temperature (all Arrhenius factors here).
  Step prepare(const State& /*x_prior*/, const Aux& /*aux*/, T dt_s, T current_A, T temperature_degC) const {
    using namespace spme_constants;
    const Params& p = *params_;
    Step s;
    s.dt_s = dt_s;
    s.current_A = current_A;
    s.temperature_degC = temperature_degC;
    const T temperature_K = temperature_degC + T(kZeroCelsius_K);
    // 1/T_ref - 1/T, shared by every Arrhenius factor
    const T inv_t_diff = T(1) / p.reference_temperature_K - T(1) / temperature_K;
    const T inv_rg = T(1.0 / kGas_J_per_mol_K);
    s.soc_gain = dt_s / (T(3600) * p.capacity_Ah);
    s.a[Idx::soc] = T(1);
    s.b[Idx::soc] = -s.soc_gain;
    // Particles: w_k' = a_k w_k + b_k i with a_k = exp(-p_k D dt / R^2),
    // b_k = (1 - a_k) (-(R/(D c_max F)) r_k / p_k) (j per A).
    s.j_negative_A_m2 = prepare_electrode(p.negative, T(1), dt_s, inv_t_diff, inv_rg, current_A, Idx::negative0,
                                          s, s.feed_negative, s.j0_scale_negative);
    s.j_positive_A_m2 = prepare_electrode(p.positive, T(-1), dt_s, inv_t_diff, inv_rg, current_A, Idx::positive0,
                                          s, s.feed_positive, s.j0_scale_positive);
    // Electrolyte modes: tau_k(T) = tau_k,ref / Arr(E_De).
    const T arr_de = arrhenius(p.electrolyte_diffusivity_activation_J_mol, inv_t_diff, inv_rg);
    CELLSENSE_UNROLL
    for (int k = 0; k < NE; ++k) {
      const T a = math::exp(-dt_s * arr_de / p.electrolyte_tau_s[k]);
      s.a[Idx::electrolyte(k)] = a;
      s.b[Idx::electrolyte(k)] = T(1) - a;
    }
    CELLSENSE_UNROLL
    for (int o = 0; o < 3; ++o) { s.electrolyte_feed_mol_m3[o] = p.electrolyte_feedthrough_mol_m3_per_A[o] * current_A; }
    const T rt_over_f = T(kGas_J_per_mol_K / kFaraday_C_per_mol) * temperature_K;
    s.two_rt_over_f_V = T(2) * rt_over_f;
    s.concentration_coeff_V = T(2) * (T(1) - p.transference_number) * p.thermodynamic_factor * rt_over_f;
    // kappa(T) = kappa_ref Arr(E_kappa): resistances divide by it
    const T inv_arr_kappa = T(1) / arrhenius(p.electrolyte_conductivity_activation_J_mol, inv_t_diff, inv_rg);
    s.ohmic_V = current_A * (p.electrolyte_resistance_Ohm * inv_arr_kappa + p.solid_resistance_Ohm +
                             p.contact_resistance_Ohm);
    s.anode_ohmic_V = current_A * (p.negative_electrolyte_resistance_Ohm * inv_arr_kappa -
                                   p.negative_solid_resistance_Ohm);
    return s;
  }

  static Aux next_aux(const Step& /*step*/) { return Aux{}; }

  /// x_k = F x_{k-1} + b i (F diagonal).
  State predict(const Step& s, const State& x) const {
    State out;
    CELLSENSE_UNROLL
    for (int r = 0; r < kStates; ++r) { out(r, 0) = s.a[r] * x(r, 0) + s.b[r] * s.current_A; }
    return out;
  }

  Cov process_jacobian(const Step& s) const {
    Cov f = Cov::zero();
    for (int r = 0; r < kStates; ++r) { f(r, r) = s.a[r]; }
    return f;
  }

  State process_jacobian_diagonal(const Step& s) const {
    State f;
    CELLSENSE_UNROLL
    for (int r = 0; r < kStates; ++r) { f(r, 0) = s.a[r]; }
    return f;
  }

  /// Q = diag(q^2) dt + b b^T sigma_i^2 (one triangle computed, mirrored: exactly symmetric).
  Cov process_noise(const Step& s) const {
    const T var_i = noise_.current_sigma_A * noise_.current_sigma_A;
    Cov q;
    CELLSENSE_UNROLL
    for (int r = 0; r < kStates; ++r) {
      CELLSENSE_UNROLL
      for (int c = r; c < kStates; ++c) {
        const T v = s.b[r] * s.b[c] * var_i;
        q(r, c) = v;
        q(c, r) = v;
      }
    }
    const T qz = noise_.soc_per_sqrt_s;
    const T qw = noise_.particle_per_sqrt_s;
    const T qe = noise_.electrolyte_A_per_sqrt_s;
    q(Idx::soc, Idx::soc) = q(Idx::soc, Idx::soc) + qz * qz * s.dt_s;
    CELLSENSE_UNROLL
    for (int k = 0; k < 2 * NP; ++k) {
      q(Idx::negative0 + k, Idx::negative0 + k) = q(Idx::negative0 + k, Idx::negative0 + k) + qw * qw * s.dt_s;
    }
    CELLSENSE_UNROLL
    for (int k = 0; k < NE; ++k) {
      q(Idx::electrolyte(k), Idx::electrolyte(k)) = q(Idx::electrolyte(k), Idx::electrolyte(k)) + qe * qe * s.dt_s;
    }
    return q;
  }

  /// Terminal voltage (V).
  T measure(const Step& s, const State& x) const {
    Row unused;
    return evaluate<false>(s, x, unused, nullptr);
  }

  /// H = dv/dx, analytic (tests/cpp/test_spme.cpp compares it with finite differences).
  Row measurement_jacobian(const Step& s, const State& x) const {
    Row h;
    (void)evaluate<true>(s, x, h, nullptr);
    return h;
  }

  /// measure() and measurement_jacobian() together (same arithmetic, same bits as each alone).
  T measure_with_jacobian(const Step& s, const State& x, Row& h) const { return evaluate<true>(s, x, h, nullptr); }

  /// Everything the model reports at state x for this sample (voltage, SOC, surface
  /// stoichiometries, plating margin, electrolyte concentrations).
  Outputs outputs(const Step& s, const State& x) const {
    Outputs o;
    Row unused;
    o.voltage_V = evaluate<false>(s, x, unused, &o);
    return o;
  }

  /// SOC within [soc_min, soc_max]; the mode states are left free.
  static void constrain(State& x, T soc_min, T soc_max) {
    x(Idx::soc, 0) = math::clamp(x(Idx::soc, 0), soc_min, soc_max);
  }

  /// Initial Gaussian: a rested cell at SOC soc (modes 0), P = diag(sigma^2).
  static void initial(T soc, T soc_sigma, T particle_sigma, T electrolyte_sigma_A, State& x, Cov& p) {
    x = State::zero();
    x(Idx::soc, 0) = soc;
    p = Cov::zero();
    p(Idx::soc, Idx::soc) = soc_sigma * soc_sigma;
    for (int k = 0; k < 2 * NP; ++k) { p(Idx::negative0 + k, Idx::negative0 + k) = particle_sigma * particle_sigma; }
    for (int k = 0; k < NE; ++k) {
      p(Idx::electrolyte(k), Idx::electrolyte(k)) = electrolyte_sigma_A * electrolyte_sigma_A;
    }
  }

  /// Bulk stoichiometry of an electrode at SOC z (lithium conservation: both follow z).
  static T bulk_stoichiometry(const typename Params::Electrode& e, T soc) {
    return e.stoichiometry_full + (soc - T(1)) * e.stoichiometry_per_soc;
  }

  bool voltage_in_range(T v) const { return v >= params_->voltage_min_V && v <= params_->voltage_max_V; }
  bool current_in_range(T i) const { return i >= params_->current_min_A && i <= params_->current_max_A; }
  bool temperature_in_range(T t) const {
    return t >= params_->temperature_min_degC && t <= params_->temperature_max_degC;
  }

  /// OCP (V) and dOCP/dx at stoichiometry x: linear interpolation by bisection, continued linearly
  /// beyond the table ends.
  static T ocp(const typename Params::Electrode& e, T x, T& slope) {
    const int n = e.n_ocp;
    const T* bp = e.ocp_stoichiometry;
    int lo = 0;
    if (x >= bp[n - 1]) {
      lo = n - 2;
    } else if (x > bp[0]) {
      int hi = n - 1;
      while (hi - lo > 1) {  // invariant bp[lo] <= x < bp[hi]
        const int mid = (lo + hi) / 2;
        if (x < bp[mid]) {
          hi = mid;
        } else {
          lo = mid;
        }
      }
    }
    slope = (e.ocp_V[lo + 1] - e.ocp_V[lo]) / (bp[lo + 1] - bp[lo]);
    return e.ocp_V[lo] + slope * (x - bp[lo]);
  }

 private:
  /// Arr(E) = exp(E / R_g (1/T_ref - 1/T)); exactly 1 without an exp when E = 0.
  static T arrhenius(T activation_J_mol, T inv_t_diff, T inv_rg) {
    if (!(activation_J_mol > T(0) || activation_J_mol < T(0))) { return T(1); }
    return math::exp(activation_J_mol * inv_rg * inv_t_diff);
  }

  /// One electrode's part of prepare(); returns j at this current (A/m^2).
  T prepare_electrode(const typename Params::Electrode& e, T sign, T dt_s, T inv_t_diff, T inv_rg, T current_A,
                      int first, Step& s, T& feed, T& j0_scale) const {
    using namespace spme_constants;
    using Pade = PadeParticle<NP>;
    const Params& p = *params_;
    const T radius = e.particle_radius_m;
    const T specific_area = T(3) * e.active_fraction / radius;                     // a = 3 eps_s / R
    const T j_per_A = sign / (p.area_m2 * specific_area * e.thickness_m);          // j = i / (A a L)
    const T diffusivity = e.diffusivity_m2_s * arrhenius(e.diffusivity_activation_J_mol, inv_t_diff, inv_rg);
    const T rate_per_pole = diffusivity * dt_s / (radius * radius);                // D dt / R^2
    const T gain = radius / (diffusivity * e.max_concentration_mol_m3 * T(kFaraday_C_per_mol));  // R/(D c_max F)
    CELLSENSE_UNROLL
    for (int k = 0; k < NP; ++k) {
      const T pole = static_cast<T>(Pade::pole[k]);
      const T a = math::exp(-pole * rate_per_pole);
      s.a[first + k] = a;
      s.b[first + k] = (T(1) - a) * (-(gain * static_cast<T>(Pade::residue[k]) / pole)) * j_per_A;
    }
    const T j = j_per_A * current_A;
    feed = -(gain * static_cast<T>(Pade::feedthrough)) * j;
    // j0 = j0_ref Arr sqrt(c_e / c_e0) sqrt(x (1 - x) / (1/4)) = j0_scale sqrt(c_e x (1 - x))
    j0_scale = e.exchange_current_A_m2 * arrhenius(e.exchange_current_activation_J_mol, inv_t_diff, inv_rg) *
               T(2) / std::sqrt(p.electrolyte_concentration_mol_m3);
    return j;
  }

  /// Kinetic overpotential of one electrode and, with kJacobian, its derivatives with respect to
  /// the surface stoichiometry and the electrolyte concentration.
  /// eta = (2 R_g T / F) asinh(u), u = j / (2 j0), j0 = j0_scale sqrt(c x (1 - x)).
  /// x is clamped to [kStoMin, 1 - kStoMin] and c to >= kConcentrationFloor c_e0 inside j0 (derivative 0
  /// where clamped): a sigma point or an unconverged estimate may stray outside.
  template <bool kJacobian>
  static T overpotential(const Step& s, T j, T j0_scale, T x, T c, T c_floor, T& d_dx, T& d_dc) {
    const T sto_min = T(1e-4);
    const bool x_low = x < sto_min;
    const bool x_high = x > T(1) - sto_min;
    const T xc = x_low ? sto_min : (x_high ? T(1) - sto_min : x);
    const bool c_low = c < c_floor;
    const T cc = c_low ? c_floor : c;
    const T j0 = j0_scale * std::sqrt(cc * xc * (T(1) - xc));
    const T u = j / (T(2) * j0);
    const T eta = s.two_rt_over_f_V * math::asinh(u);
    if constexpr (kJacobian) {
      // d eta / d j0 = -(2RT/F) u / (j0 sqrt(1 + u^2)); d j0/dx = j0 (1 - 2x) / (2 x (1 - x));
      // d j0 / dc = j0 / (2 c)
      const T d_eta_d_lnj0 = -s.two_rt_over_f_V * u / std::sqrt(T(1) + u * u);
      d_dx = (x_low || x_high) ? T(0) : d_eta_d_lnj0 * (T(1) - T(2) * xc) / (T(2) * xc * (T(1) - xc));
      d_dc = c_low ? T(0) : d_eta_d_lnj0 / (T(2) * cc);
    }
    return eta;
  }

  template <bool kJacobian>
  T evaluate(const Step& s, const State& x, Row& h, Outputs* out) const {
    using P = Params;
    const Params& p = *params_;
    const T soc = x(Idx::soc, 0);
    // electrolyte read-outs c_o = c_e0 + sum_k g_ko e_k + d_o i
    T c[P::kReadouts];
    CELLSENSE_UNROLL
    for (int o = 0; o < P::kReadouts; ++o) {
      T acc = p.electrolyte_concentration_mol_m3 + s.electrolyte_feed_mol_m3[o];
      CELLSENSE_UNROLL
      for (int k = 0; k < NE; ++k) { acc = acc + p.electrolyte_gain_mol_m3_per_A[k][o] * x(Idx::electrolyte(k), 0); }
      c[o] = acc;
    }
    const T c_floor = T(kConcentrationFloor) * p.electrolyte_concentration_mol_m3;
    // surface stoichiometries
    T xn = bulk_stoichiometry(p.negative, soc) + s.feed_negative;
    T xp = bulk_stoichiometry(p.positive, soc) + s.feed_positive;
    CELLSENSE_UNROLL
    for (int k = 0; k < NP; ++k) {
      xn = xn + x(Idx::negative(k), 0);
      xp = xp + x(Idx::positive(k), 0);
    }
    T du_n, du_p, deta_n_dx = T(0), deta_n_dc = T(0), deta_p_dx = T(0), deta_p_dc = T(0);
    const T u_n = ocp(p.negative, xn, du_n);
    const T u_p = ocp(p.positive, xp, du_p);
    const T eta_n = overpotential<kJacobian>(s, s.j_negative_A_m2, s.j0_scale_negative, xn, c[P::kNegative], c_floor,
                                             deta_n_dx, deta_n_dc);
    const T eta_p = overpotential<kJacobian>(s, s.j_positive_A_m2, s.j0_scale_positive, xp, c[P::kPositive], c_floor,
                                             deta_p_dx, deta_p_dc);
    const bool cn_low = c[P::kNegative] < c_floor;
    const bool cp_low = c[P::kPositive] < c_floor;
    const T cn = cn_low ? c_floor : c[P::kNegative];
    const T cp = cp_low ? c_floor : c[P::kPositive];
    const T eta_c = s.concentration_coeff_V * (math::log(cp) - math::log(cn));
    const T v = u_p - u_n + eta_p - eta_n + eta_c - s.ohmic_V;
    if constexpr (kJacobian) {
      const T dv_dxp = du_p + deta_p_dx;
      const T dv_dxn = -(du_n + deta_n_dx);
      h(0, Idx::soc) = dv_dxp * p.positive.stoichiometry_per_soc + dv_dxn * p.negative.stoichiometry_per_soc;
      CELLSENSE_UNROLL
      for (int k = 0; k < NP; ++k) {
        h(0, Idx::negative(k)) = dv_dxn;
        h(0, Idx::positive(k)) = dv_dxp;
      }
      const T dv_dcp = deta_p_dc + (cp_low ? T(0) : s.concentration_coeff_V / cp);
      const T dv_dcn = -deta_n_dc - (cn_low ? T(0) : s.concentration_coeff_V / cn);
      CELLSENSE_UNROLL
      for (int k = 0; k < NE; ++k) {
        h(0, Idx::electrolyte(k)) = dv_dcp * p.electrolyte_gain_mol_m3_per_A[k][P::kPositive] +
                                    dv_dcn * p.electrolyte_gain_mol_m3_per_A[k][P::kNegative];
      }
    }
    if (out != nullptr) {
      const T c_sep = c[P::kSeparator] < c_floor ? c_floor : c[P::kSeparator];
      out->soc = soc;
      out->negative_surface_stoichiometry = xn;
      out->positive_surface_stoichiometry = xp;
      // phi_n(L_n) = U_n + eta_n + i L_n/(3 kappa_n A) - i L_n/(6 sigma_n A) - K_c ln(c_sep / c_n)
      out->anode_surface_potential_V =
          u_n + eta_n + s.anode_ohmic_V - s.concentration_coeff_V * (math::log(c_sep) - math::log(cn));
      out->electrolyte_negative_mol_m3 = c[P::kNegative];
      out->electrolyte_positive_mol_m3 = c[P::kPositive];
      out->electrolyte_separator_mol_m3 = c[P::kSeparator];
    }
    return v;
  }

  /// Lowest electrolyte concentration used in j0 and ln c_e, as a fraction of c_e0.
  static constexpr double kConcentrationFloor = 0.01;

  const Params* params_ = nullptr;
  Noise noise_{};
};

}  // namespace model
}  // namespace cellsense
