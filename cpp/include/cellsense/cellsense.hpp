// SPDX-License-Identifier: Apache-2.0
// Umbrella header for the cellsense core.
#pragma once

#include "cellsense/estimator/estimator.hpp"
#include "cellsense/estimator/log_clock.hpp"
#include "cellsense/estimator/status.hpp"
#include "cellsense/filter/ekf.hpp"
#include "cellsense/filter/ukf.hpp"
#include "cellsense/math/cholesky.hpp"
#include "cellsense/math/exp.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/math/table.hpp"
#include "cellsense/model/ecm.hpp"

namespace cellsense {

/// Convenience aliases: the ECM with NRC RC pairs under an EKF or a UKF.
template <typename T, int NRC>
using EcmEkf = Estimator<model::EcmModel<T, NRC>, filter::Ekf>;
template <typename T, int NRC>
using EcmUkf = Estimator<model::EcmModel<T, NRC>, filter::Ukf>;

}  // namespace cellsense
