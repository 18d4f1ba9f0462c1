#pragma once
// oess/export/model.h — everything of the export area in one include: the model file
// (export/model_file.h), export of a run (export/export_run.h), scoring (export/scorer.h) and heat maps
// (export/heatmap.h).
#include "oess/export/export_run.h"
#include "oess/export/heatmap.h"
#include "oess/export/model_file.h"
#include "oess/export/scorer.h"
