"""What torchvision documents about each pretrained-weights entry and that no builder computes:
the parameter count of the released model, the smallest input it accepts and the inference
preset (``weights.transforms()``): kind ("cls" classification, "seg" segmentation, "det"
detection), crop size, resize size, interpolation and normalisation. Recorded from black-box
runs of torchvision 0.28 (``meta["num_params"]``, ``meta["min_size"]``, the preset's fields)."""

NORMS = {"IMAGENET": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
         "HALF": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
         "CAFFE": ((0.48235, 0.45882, 0.40784), (1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0))}

# "Enum.ENTRY": (num_params, min_size, kind, crop_size, resize_size, interpolation, norm)
WEIGHTS_META = {
    "AlexNet_Weights.IMAGENET1K_V1": (61100840, (63, 63), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ConvNeXt_Base_Weights.IMAGENET1K_V1":
        (88591464, (32, 32), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ConvNeXt_Large_Weights.IMAGENET1K_V1":
        (197767336, (32, 32), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ConvNeXt_Small_Weights.IMAGENET1K_V1":
        (50223688, (32, 32), "cls", 224, 230, "BILINEAR", "IMAGENET"),
    "ConvNeXt_Tiny_Weights.IMAGENET1K_V1":
        (28589128, (32, 32), "cls", 224, 236, "BILINEAR", "IMAGENET"),
    "DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1":
        (11029328, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1":
        (60996202, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1":
        (42004074, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "DenseNet121_Weights.IMAGENET1K_V1":
        (7978856, (29, 29), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "DenseNet161_Weights.IMAGENET1K_V1":
        (28681000, (29, 29), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "DenseNet169_Weights.IMAGENET1K_V1":
        (14149480, (29, 29), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "DenseNet201_Weights.IMAGENET1K_V1":
        (20013928, (29, 29), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "EfficientNet_B0_Weights.IMAGENET1K_V1":
        (5288548, (1, 1), "cls", 224, 256, "BICUBIC", "IMAGENET"),
    "EfficientNet_B1_Weights.IMAGENET1K_V1":
        (7794184, (1, 1), "cls", 240, 256, "BICUBIC", "IMAGENET"),
    "EfficientNet_B1_Weights.IMAGENET1K_V2":
        (7794184, (1, 1), "cls", 240, 255, "BILINEAR", "IMAGENET"),
    "EfficientNet_B2_Weights.IMAGENET1K_V1":
        (9109994, (1, 1), "cls", 288, 288, "BICUBIC", "IMAGENET"),
    "EfficientNet_B3_Weights.IMAGENET1K_V1":
        (12233232, (1, 1), "cls", 300, 320, "BICUBIC", "IMAGENET"),
    "EfficientNet_B4_Weights.IMAGENET1K_V1":
        (19341616, (1, 1), "cls", 380, 384, "BICUBIC", "IMAGENET"),
    "EfficientNet_B5_Weights.IMAGENET1K_V1":
        (30389784, (1, 1), "cls", 456, 456, "BICUBIC", "IMAGENET"),
    "EfficientNet_B6_Weights.IMAGENET1K_V1":
        (43040704, (1, 1), "cls", 528, 528, "BICUBIC", "IMAGENET"),
    "EfficientNet_B7_Weights.IMAGENET1K_V1":
        (66347960, (1, 1), "cls", 600, 600, "BICUBIC", "IMAGENET"),
    "EfficientNet_V2_L_Weights.IMAGENET1K_V1":
        (118515272, (33, 33), "cls", 480, 480, "BICUBIC", "HALF"),
    "EfficientNet_V2_M_Weights.IMAGENET1K_V1":
        (54139356, (33, 33), "cls", 480, 480, "BILINEAR", "IMAGENET"),
    "EfficientNet_V2_S_Weights.IMAGENET1K_V1":
        (21458488, (33, 33), "cls", 384, 384, "BILINEAR", "IMAGENET"),
    "FCN_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1":
        (54314346, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1":
        (35322218, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "FCOS_ResNet50_FPN_Weights.COCO_V1": (32269600, (1, 1), "det", None, None, None, None),
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1":
        (19386354, (1, 1), "det", None, None, None, None),
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1":
        (19386354, (1, 1), "det", None, None, None, None),
    "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1": (43712278, (1, 1), "det", None, None, None, None),
    "FasterRCNN_ResNet50_FPN_Weights.COCO_V1": (41755286, (1, 1), "det", None, None, None, None),
    "GoogLeNet_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (6624904, (15, 15), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "GoogLeNet_Weights.IMAGENET1K_V1": (6624904, (15, 15), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "Inception_V3_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (27161264, (75, 75), "cls", 299, 342, "BILINEAR", "IMAGENET"),
    "Inception_V3_Weights.IMAGENET1K_V1":
        (27161264, (75, 75), "cls", 299, 342, "BILINEAR", "IMAGENET"),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_LEGACY":
        (59137258, (1, 1), "det", None, None, None, None),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_V1": (59137258, (1, 1), "det", None, None, None, None),
    "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1":
        (3221538, (1, 1), "seg", None, 520, "BILINEAR", "IMAGENET"),
    "MNASNet0_5_Weights.IMAGENET1K_V1": (2218512, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MNASNet0_75_Weights.IMAGENET1K_V1": (3170208, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "MNASNet1_0_Weights.IMAGENET1K_V1": (4383312, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MNASNet1_3_Weights.IMAGENET1K_V1": (6282256, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1": (46359409, (1, 1), "det", None, None, None, None),
    "MaskRCNN_ResNet50_FPN_Weights.COCO_V1": (44401393, (1, 1), "det", None, None, None, None),
    "MaxVit_T_Weights.IMAGENET1K_V1":
        (30919624, (224, 224), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "MobileNet_V2_QuantizedWeights.IMAGENET1K_QNNPACK_V1":
        (3504872, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MobileNet_V2_Weights.IMAGENET1K_V1":
        (3504872, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MobileNet_V2_Weights.IMAGENET1K_V2":
        (3504872, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1":
        (5483032, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MobileNet_V3_Large_Weights.IMAGENET1K_V1":
        (5483032, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "MobileNet_V3_Large_Weights.IMAGENET1K_V2":
        (5483032, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "MobileNet_V3_Small_Weights.IMAGENET1K_V1":
        (2542856, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_16GF_Weights.IMAGENET1K_V1":
        (54278536, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_16GF_Weights.IMAGENET1K_V2":
        (54278536, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_1_6GF_Weights.IMAGENET1K_V1":
        (9190136, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_1_6GF_Weights.IMAGENET1K_V2":
        (9190136, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_32GF_Weights.IMAGENET1K_V1":
        (107811560, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_32GF_Weights.IMAGENET1K_V2":
        (107811560, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_3_2GF_Weights.IMAGENET1K_V1":
        (15296552, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_3_2GF_Weights.IMAGENET1K_V2":
        (15296552, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_400MF_Weights.IMAGENET1K_V1":
        (5495976, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_400MF_Weights.IMAGENET1K_V2":
        (5495976, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_800MF_Weights.IMAGENET1K_V1":
        (7259656, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_800MF_Weights.IMAGENET1K_V2":
        (7259656, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_X_8GF_Weights.IMAGENET1K_V1":
        (39572648, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_X_8GF_Weights.IMAGENET1K_V2":
        (39572648, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_128GF_Weights.IMAGENET1K_SWAG_E2E_V1":
        (644812894, (1, 1), "cls", 384, 384, "BICUBIC", "IMAGENET"),
    "RegNet_Y_128GF_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (644812894, (1, 1), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1":
        (83590140, (1, 1), "cls", 384, 384, "BICUBIC", "IMAGENET"),
    "RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (83590140, (1, 1), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "RegNet_Y_16GF_Weights.IMAGENET1K_V1":
        (83590140, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_16GF_Weights.IMAGENET1K_V2":
        (83590140, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_1_6GF_Weights.IMAGENET1K_V1":
        (11202430, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_1_6GF_Weights.IMAGENET1K_V2":
        (11202430, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_32GF_Weights.IMAGENET1K_SWAG_E2E_V1":
        (145046770, (1, 1), "cls", 384, 384, "BICUBIC", "IMAGENET"),
    "RegNet_Y_32GF_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (145046770, (1, 1), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "RegNet_Y_32GF_Weights.IMAGENET1K_V1":
        (145046770, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_32GF_Weights.IMAGENET1K_V2":
        (145046770, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_3_2GF_Weights.IMAGENET1K_V1":
        (19436338, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_3_2GF_Weights.IMAGENET1K_V2":
        (19436338, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_400MF_Weights.IMAGENET1K_V1":
        (4344144, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_400MF_Weights.IMAGENET1K_V2":
        (4344144, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_800MF_Weights.IMAGENET1K_V1":
        (6432512, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_800MF_Weights.IMAGENET1K_V2":
        (6432512, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RegNet_Y_8GF_Weights.IMAGENET1K_V1":
        (39381472, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "RegNet_Y_8GF_Weights.IMAGENET1K_V2":
        (39381472, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (88791336, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V2":
        (88791336, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNeXt101_32X8D_Weights.IMAGENET1K_V1":
        (88791336, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNeXt101_32X8D_Weights.IMAGENET1K_V2":
        (88791336, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNeXt101_64X4D_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (83455272, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNeXt101_64X4D_Weights.IMAGENET1K_V1":
        (83455272, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNeXt50_32X4D_Weights.IMAGENET1K_V1":
        (25028904, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNeXt50_32X4D_Weights.IMAGENET1K_V2":
        (25028904, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNet101_Weights.IMAGENET1K_V1": (44549160, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet101_Weights.IMAGENET1K_V2": (44549160, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNet152_Weights.IMAGENET1K_V1": (60192808, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet152_Weights.IMAGENET1K_V2": (60192808, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (11689512, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet18_Weights.IMAGENET1K_V1": (11689512, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet34_Weights.IMAGENET1K_V1": (21797672, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (25557032, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2":
        (25557032, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ResNet50_Weights.IMAGENET1K_V1": (25557032, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ResNet50_Weights.IMAGENET1K_V2": (25557032, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1": (38198935, (1, 1), "det", None, None, None, None),
    "RetinaNet_ResNet50_FPN_Weights.COCO_V1": (34014999, (1, 1), "det", None, None, None, None),
    "SSD300_VGG16_Weights.COCO_V1": (35641826, (1, 1), "det", None, None, None, None),
    "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1":
        (3440060, (1, 1), "det", None, None, None, None),
    "ShuffleNet_V2_X0_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (1366792, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1":
        (1366792, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X1_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (2278604, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1":
        (2278604, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X1_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (3503624, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1":
        (3503624, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X2_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1":
        (7393996, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1":
        (7393996, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "SqueezeNet1_0_Weights.IMAGENET1K_V1":
        (1248424, (21, 21), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "SqueezeNet1_1_Weights.IMAGENET1K_V1":
        (1235496, (17, 17), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "Swin_B_Weights.IMAGENET1K_V1": (87768224, (224, 224), "cls", 224, 238, "BICUBIC", "IMAGENET"),
    "Swin_S_Weights.IMAGENET1K_V1": (49606258, (224, 224), "cls", 224, 246, "BICUBIC", "IMAGENET"),
    "Swin_T_Weights.IMAGENET1K_V1": (28288354, (224, 224), "cls", 224, 232, "BICUBIC", "IMAGENET"),
    "Swin_V2_B_Weights.IMAGENET1K_V1":
        (87930848, (256, 256), "cls", 256, 272, "BICUBIC", "IMAGENET"),
    "Swin_V2_S_Weights.IMAGENET1K_V1":
        (49737442, (256, 256), "cls", 256, 260, "BICUBIC", "IMAGENET"),
    "Swin_V2_T_Weights.IMAGENET1K_V1":
        (28351570, (256, 256), "cls", 256, 260, "BICUBIC", "IMAGENET"),
    "VGG11_BN_Weights.IMAGENET1K_V1":
        (132868840, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG11_Weights.IMAGENET1K_V1": (132863336, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG13_BN_Weights.IMAGENET1K_V1":
        (133053736, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG13_Weights.IMAGENET1K_V1": (133047848, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG16_BN_Weights.IMAGENET1K_V1":
        (138365992, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG16_Weights.IMAGENET1K_FEATURES":
        (138357544, (32, 32), "cls", 224, 256, "BILINEAR", "CAFFE"),
    "VGG16_Weights.IMAGENET1K_V1": (138357544, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG19_BN_Weights.IMAGENET1K_V1":
        (143678248, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "VGG19_Weights.IMAGENET1K_V1": (143667240, (32, 32), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1":
        (86859496, (384, 384), "cls", 384, 384, "BICUBIC", "IMAGENET"),
    "ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (86567656, (224, 224), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "ViT_B_16_Weights.IMAGENET1K_V1":
        (86567656, (224, 224), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ViT_B_32_Weights.IMAGENET1K_V1":
        (88224232, (224, 224), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1":
        (633470440, (518, 518), "cls", 518, 518, "BICUBIC", "IMAGENET"),
    "ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (632045800, (224, 224), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "ViT_L_16_Weights.IMAGENET1K_SWAG_E2E_V1":
        (305174504, (512, 512), "cls", 512, 512, "BICUBIC", "IMAGENET"),
    "ViT_L_16_Weights.IMAGENET1K_SWAG_LINEAR_V1":
        (304326632, (224, 224), "cls", 224, 224, "BICUBIC", "IMAGENET"),
    "ViT_L_16_Weights.IMAGENET1K_V1":
        (304326632, (224, 224), "cls", 224, 242, "BILINEAR", "IMAGENET"),
    "ViT_L_32_Weights.IMAGENET1K_V1":
        (306535400, (224, 224), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "Wide_ResNet101_2_Weights.IMAGENET1K_V1":
        (126886696, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "Wide_ResNet101_2_Weights.IMAGENET1K_V2":
        (126886696, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
    "Wide_ResNet50_2_Weights.IMAGENET1K_V1":
        (68883240, (1, 1), "cls", 224, 256, "BILINEAR", "IMAGENET"),
    "Wide_ResNet50_2_Weights.IMAGENET1K_V2":
        (68883240, (1, 1), "cls", 224, 232, "BILINEAR", "IMAGENET"),
}
