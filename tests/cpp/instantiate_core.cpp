// SPDX-License-Identifier: Apache-2.0
// Every core header, every class template explicitly instantiated for float and double (and the
// free function templates of math/), so that static analysis (scripts/static_analysis.sh:
// clang-tidy, cppcheck) and the strict-warning build see each member function's body for both
// scalar types, not only the paths a test happens to call. Built as an object library by
// tests/cpp/CMakeLists.txt with the core's strict flags; it defines no test and no entry point.
#include "cellsense/cellsense.hpp"
#include "cellsense/power/power_limits.hpp"
#include "cellsense/estimator/estimator.hpp"
#include "cellsense/estimator/log_clock.hpp"
#include "cellsense/estimator/status.hpp"
#include "cellsense/filter/ekf.hpp"
#include "cellsense/filter/innovation.hpp"
#include "cellsense/filter/ukf.hpp"
#include "cellsense/math/cholesky.hpp"
#include "cellsense/math/exp.hpp"
#include "cellsense/math/log.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/math/table.hpp"
#include "cellsense/model/ecm.hpp"
#include "cellsense/model/spme.hpp"
#include "cellsense/pack/pack.hpp"
#include "cellsense/soh/capacity_awtls.hpp"
#include "cellsense/soh/ocv_filter.hpp"
#include "cellsense/soh/r0_filter.hpp"
#include "cellsense/soh/soh_tracker.hpp"

namespace cellsense {

// ---- math ----------------------------------------------------------------------------------
template struct math::Matrix<float, 4, 4>;
template struct math::Matrix<double, 4, 4>;
template float math::exp<float>(float);
template double math::exp<double>(double);
template float math::log<float>(float);
template double math::log<double>(double);
template float math::log1p<float>(float);
template double math::log1p<double>(double);
template float math::asinh<float>(float);
template double math::asinh<double>(double);
template float math::sinh<float>(float);
template double math::sinh<double>(double);
template bool math::cholesky<float, 4>(const math::Matrix<float, 4, 4>&, math::Matrix<float, 4, 4>&);
template bool math::cholesky<double, 4>(const math::Matrix<double, 4, 4>&, math::Matrix<double, 4, 4>&);

// ---- models --------------------------------------------------------------------------------
template class model::EcmModel<float, 1>;
template class model::EcmModel<float, 2>;
template class model::EcmModel<double, 1>;
template class model::EcmModel<double, 2>;
template model::ParamError model::validate<float, 2, 64, 8>(const model::EcmParams<float, 2, 64, 8>&);
template model::ParamError model::validate<double, 2, 64, 8>(const model::EcmParams<double, 2, 64, 8>&);
template class model::SpmeModel<float>;
template class model::SpmeModel<double>;
template model::SpmeParamError model::validate<float, 2, 96>(const model::SpmeParams<float, 2, 96>&);
template model::SpmeParamError model::validate<double, 2, 96>(const model::SpmeParams<double, 2, 96>&);

// ---- filters and estimators ----------------------------------------------------------------
template class filter::Ekf<model::EcmModel<float, 2>>;
template class filter::Ukf<model::EcmModel<float, 2>>;
template class filter::Ekf<model::EcmModel<double, 2>>;
template class filter::Ukf<model::EcmModel<double, 2>>;
template class Estimator<model::EcmModel<float, 1>, filter::Ekf>;
template class Estimator<model::EcmModel<float, 2>, filter::Ekf>;
template class Estimator<model::EcmModel<float, 2>, filter::Ukf>;
template class Estimator<model::EcmModel<double, 2>, filter::Ekf>;
template class Estimator<model::EcmModel<double, 2>, filter::Ukf>;
// The SPMe has no OCV correction (set_model_ocv_correction is ECM-only), so its estimators are
// instantiated member by member.
template InitStatus Estimator<model::SpmeModel<float>, filter::Ekf>::init(
    const model::SpmeModel<float>&, const EstimatorConfig<float>&, const filter::Ekf<model::SpmeModel<float>>::Config&,
    const model::SpmeModel<float>::State&, const model::SpmeModel<float>::Cov&, const model::SpmeModel<float>::Aux&);
template StepReport<float> Estimator<model::SpmeModel<float>, filter::Ekf>::step(float, float, float, float);
template bool Estimator<model::SpmeModel<float>, filter::Ekf>::set_state(const model::SpmeModel<float>::State&,
                                                                  const model::SpmeModel<float>::Cov&,
                                                                  const model::SpmeModel<float>::Aux&);
template InitStatus Estimator<model::SpmeModel<float>, filter::Ukf>::init(
    const model::SpmeModel<float>&, const EstimatorConfig<float>&, const filter::Ukf<model::SpmeModel<float>>::Config&,
    const model::SpmeModel<float>::State&, const model::SpmeModel<float>::Cov&, const model::SpmeModel<float>::Aux&);
template StepReport<float> Estimator<model::SpmeModel<float>, filter::Ukf>::step(float, float, float, float);
template bool Estimator<model::SpmeModel<float>, filter::Ukf>::set_state(const model::SpmeModel<float>::State&,
                                                                  const model::SpmeModel<float>::Cov&,
                                                                  const model::SpmeModel<float>::Aux&);
template InitStatus Estimator<model::SpmeModel<double>, filter::Ekf>::init(
    const model::SpmeModel<double>&, const EstimatorConfig<double>&, const filter::Ekf<model::SpmeModel<double>>::Config&,
    const model::SpmeModel<double>::State&, const model::SpmeModel<double>::Cov&, const model::SpmeModel<double>::Aux&);
template StepReport<double> Estimator<model::SpmeModel<double>, filter::Ekf>::step(double, double, double, double);
template bool Estimator<model::SpmeModel<double>, filter::Ekf>::set_state(const model::SpmeModel<double>::State&,
                                                                  const model::SpmeModel<double>::Cov&,
                                                                  const model::SpmeModel<double>::Aux&);
template InitStatus Estimator<model::SpmeModel<double>, filter::Ukf>::init(
    const model::SpmeModel<double>&, const EstimatorConfig<double>&, const filter::Ukf<model::SpmeModel<double>>::Config&,
    const model::SpmeModel<double>::State&, const model::SpmeModel<double>::Cov&, const model::SpmeModel<double>::Aux&);
template StepReport<double> Estimator<model::SpmeModel<double>, filter::Ukf>::step(double, double, double, double);
template bool Estimator<model::SpmeModel<double>, filter::Ukf>::set_state(const model::SpmeModel<double>::State&,
                                                                  const model::SpmeModel<double>::Cov&,
                                                                  const model::SpmeModel<double>::Aux&);

// ---- log clock ---------------------------------------------------------------------------
template class LogClock<float>;
template class LogClock<double>;
template struct ClockTick<float>;
template struct ClockTick<double>;

// ---- pack ----------------------------------------------------------------------------------
template class pack::ScaledCellModel<model::EcmModel<float, 2>>;
template class pack::ScaledCellModel<model::EcmModel<double, 2>>;
template class pack::PackEstimator<model::EcmModel<float, 2>, filter::Ekf, 16>;
template class pack::PackEstimator<model::EcmModel<float, 2>, filter::Ukf, 16>;
template class pack::PackEstimator<model::EcmModel<double, 2>, filter::Ekf, 16>;
template class pack::PackEstimator<model::EcmModel<double, 2>, filter::Ukf, 16>;

// ---- SOH -----------------------------------------------------------------------------------
template class soh::CapacityAwtls<float>;
template class soh::CapacityAwtls<double>;
template class soh::SohTracker<Estimator<model::EcmModel<float, 2>, filter::Ekf>>;
template class soh::SohTracker<Estimator<model::EcmModel<float, 2>, filter::Ukf>>;
template class soh::SohTracker<Estimator<model::EcmModel<double, 2>, filter::Ekf>>;
template class soh::SohTracker<Estimator<model::EcmModel<double, 2>, filter::Ukf>>;
template class soh::OcvFilter<Estimator<model::EcmModel<float, 2>, filter::Ekf>>;
template class soh::OcvFilter<Estimator<model::EcmModel<float, 2>, filter::Ukf>>;
template class soh::OcvFilter<Estimator<model::EcmModel<double, 2>, filter::Ekf>>;
template class soh::OcvFilter<Estimator<model::EcmModel<double, 2>, filter::Ukf>>;

// ---- state of power and energy -------------------------------------------------------------
template power::PowerStatus power::power_limits(const Estimator<model::EcmModel<float, 2>, filter::Ekf>&, float,
                                                const power::PowerConfig<float>&, power::PowerLimits<float>&);
template power::PowerStatus power::power_limits(const Estimator<model::EcmModel<double, 2>, filter::Ukf>&, double,
                                                const power::PowerConfig<double>&, power::PowerLimits<double>&);
template power::PowerStatus power::remaining_energy(const Estimator<model::EcmModel<float, 2>, filter::Ekf>&, float,
                                                    float, float, float, float, power::EnergyEstimate<float>&);
template power::PowerStatus power::time_to_full(const Estimator<model::EcmModel<float, 2>, filter::Ukf>&, float, float,
                                                float&, float&);
template power::PowerStatus power::power_limits_horizons(const Estimator<model::EcmModel<float, 2>, filter::Ekf>&,
                                                         float, const power::PowerConfig<float>&, const float*, int,
                                                         power::PowerLimits<float>*);
template power::PowerStatus power::power_limits_horizons(const Estimator<model::EcmModel<double, 2>, filter::Ukf>&,
                                                         double, const power::PowerConfig<double>&, const double*, int,
                                                         power::PowerLimits<double>*);
template power::PowerStatus power::pack_power_limits_horizons(
    const pack::PackEstimator<model::EcmModel<float, 2>, filter::Ekf, 16>&, const float*,
    const power::PowerConfig<float>&, const float*, int, power::PackPowerLimits<float>*);

}  // namespace cellsense
