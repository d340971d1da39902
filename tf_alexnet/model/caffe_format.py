"""Caffe's file formats without Caffe: the caffe.proto messages a .caffemodel and a mean
.binaryproto use, described in code and parsed with the protobuf runtime TensorFlow installs.

Only the fields the weights need are described (the protobuf runtime skips the others):

    NetParameter      name = 1, layers = 2 (V1LayerParameter, the old format),
                      layer = 100 (LayerParameter)
    LayerParameter    name = 1, type = 2 (string), blobs = 7
    V1LayerParameter  name = 4, blobs = 6 (its type, an enum of 40 names, is skipped)
    BlobProto         num = 1, channels = 2, height = 3, width = 4, data = 5 (packed float),
                      shape = 7 (BlobShape), double_data = 8 (packed double)
    BlobShape         dim = 1 (packed int64)

and, for a deploy.prototxt (text format, read with the fields below; others skipped):

    NetParameter      input_dim = 4, input_shape = 8
    LayerParameter    convolution_param = 106, inner_product_param = 117, lrn_param = 118,
                      pooling_param = 121, input_param = 143
    V1LayerParameter  convolution_param = 10, inner_product_param = 17, lrn_param = 18,
                      pooling_param = 19
    ConvolutionParameter  num_output = 1, pad = 3, kernel_size = 4, group = 5, stride = 6
    LRNParameter      local_size = 1, alpha = 2, beta = 3, norm_region = 4, k = 5
    PoolingParameter  kernel_size = 2, stride = 3;  InputParameter  shape = 1

(field numbers of BVLC Caffe's src/caffe/proto/caffe.proto).
"""

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

_F = descriptor_pb2.FieldDescriptorProto


_OPT, _REP, _U32 = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED, _F.TYPE_UINT32


def _message(f, name, *fields):
    """Adds message `name` to the FileDescriptorProto `f`: fields are (name, number, type,
    label, type name or None, packed)."""
    m = f.message_type.add(name=name)
    for field_name, number, kind, label, type_name, packed in fields:
        field = m.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name
        if packed:
            field.options.packed = True


def _deploy_messages(f):
    """The layer parameters a deploy.prototxt sets; returns the LayerParameter and
    V1LayerParameter fields that hold them."""
    region = f.enum_type.add(name="NormRegion")
    region.value.add(name="ACROSS_CHANNELS", number=0)
    region.value.add(name="WITHIN_CHANNEL", number=1)
    _message(
        f,
        "ConvolutionParameter",
        ("num_output", 1, _U32, _OPT, None, False),
        ("pad", 3, _U32, _REP, None, False),
        ("kernel_size", 4, _U32, _REP, None, False),
        ("group", 5, _U32, _OPT, None, False),
        ("stride", 6, _U32, _REP, None, False),
    )
    _message(
        f,
        "LRNParameter",
        ("local_size", 1, _U32, _OPT, None, False),
        ("alpha", 2, _F.TYPE_FLOAT, _OPT, None, False),
        ("beta", 3, _F.TYPE_FLOAT, _OPT, None, False),
        ("norm_region", 4, _F.TYPE_ENUM, _OPT, ".caffe.NormRegion", False),
        ("k", 5, _F.TYPE_FLOAT, _OPT, None, False),
    )
    _message(
        f,
        "PoolingParameter",
        ("kernel_size", 2, _U32, _OPT, None, False),
        ("stride", 3, _U32, _OPT, None, False),
    )
    _message(f, "InnerProductParameter", ("num_output", 1, _U32, _OPT, None, False))
    _message(f, "InputParameter", ("shape", 1, _F.TYPE_MESSAGE, _REP, ".caffe.BlobShape", False))
    params = {
        "convolution_param": (106, 10, "ConvolutionParameter"),
        "inner_product_param": (117, 17, "InnerProductParameter"),
        "lrn_param": (118, 18, "LRNParameter"),
        "pooling_param": (121, 19, "PoolingParameter"),
    }
    return tuple(
        tuple(
            (name, numbers[0 if new else 1], _F.TYPE_MESSAGE, _OPT, f".caffe.{numbers[2]}", False)
            for name, numbers in params.items()
        )
        for new in (True, False)
    )


def _file():
    f = descriptor_pb2.FileDescriptorProto(
        name="tf_alexnet_caffe.proto", package="caffe", syntax="proto2"
    )
    _message(f, "BlobShape", ("dim", 1, _F.TYPE_INT64, _REP, None, True))
    layer_params, v1_layer_params = _deploy_messages(f)
    _message(
        f,
        "BlobProto",
        ("num", 1, _F.TYPE_INT32, _OPT, None, False),
        ("channels", 2, _F.TYPE_INT32, _OPT, None, False),
        ("height", 3, _F.TYPE_INT32, _OPT, None, False),
        ("width", 4, _F.TYPE_INT32, _OPT, None, False),
        ("data", 5, _F.TYPE_FLOAT, _REP, None, True),
        ("shape", 7, _F.TYPE_MESSAGE, _OPT, ".caffe.BlobShape", False),
        ("double_data", 8, _F.TYPE_DOUBLE, _REP, None, True),
    )
    _message(
        f,
        "LayerParameter",
        ("name", 1, _F.TYPE_STRING, _OPT, None, False),
        ("type", 2, _F.TYPE_STRING, _OPT, None, False),
        ("blobs", 7, _F.TYPE_MESSAGE, _REP, ".caffe.BlobProto", False),
        ("input_param", 143, _F.TYPE_MESSAGE, _OPT, ".caffe.InputParameter", False),
        *layer_params,
    )
    _message(
        f,
        "V1LayerParameter",
        ("name", 4, _F.TYPE_STRING, _OPT, None, False),
        ("blobs", 6, _F.TYPE_MESSAGE, _REP, ".caffe.BlobProto", False),
        *v1_layer_params,
    )
    _message(
        f,
        "NetParameter",
        ("name", 1, _F.TYPE_STRING, _OPT, None, False),
        ("input_dim", 4, _F.TYPE_INT32, _REP, None, False),
        ("input_shape", 8, _F.TYPE_MESSAGE, _REP, ".caffe.BlobShape", False),
        ("layers", 2, _F.TYPE_MESSAGE, _REP, ".caffe.V1LayerParameter", False),
        ("layer", 100, _F.TYPE_MESSAGE, _REP, ".caffe.LayerParameter", False),
    )
    return f


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
NetParameter, BlobProto, LayerParameter, V1LayerParameter, BlobShape = (
    message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"caffe.{name}"))
    for name in ("NetParameter", "BlobProto", "LayerParameter", "V1LayerParameter", "BlobShape")
)


def blob_array(blob):
    """A BlobProto as a float32 array of its shape (`shape.dim`, else num/channels/height/
    width with the leading 1s Caffe's old format pads with dropped)."""
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(int(d) for d in (blob.num, blob.channels, blob.height, blob.width))
        while len(shape) > 1 and shape[0] == 1:
            shape = shape[1:]
    values = blob.data if len(blob.data) else blob.double_data
    data = np.asarray(values, np.float32)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"a blob of shape {shape} holds {data.size} values")
    return data.reshape(shape)


def read_net(data):
    """{layer name: [blob arrays]} of a serialized NetParameter (layers with blobs only),
    from either layer format."""
    net = NetParameter.FromString(data)
    layers = list(net.layer) or list(net.layers)
    return {
        layer.name: [blob_array(b) for b in layer.blobs] for layer in layers if len(layer.blobs)
    }


def write_net(weights, name="alexnet", old_format=False):
    """A serialized NetParameter of {layer: [arrays]} (to make test files): `layer` entries,
    or with `old_format` the V1 `layers` with num/channels/height/width blob shapes."""
    net = NetParameter(name=name)
    for layer_name, arrays in weights.items():
        layer = (
            net.layers.add(name=layer_name)
            if old_format
            else net.layer.add(
                name=layer_name, type="Convolution" if arrays[0].ndim == 4 else "InnerProduct"
            )
        )
        for array in arrays:
            blob = layer.blobs.add()
            if old_format:
                dims = (1,) * (4 - array.ndim) + array.shape
                blob.num, blob.channels, blob.height, blob.width = dims
            else:
                blob.shape.dim.extend(array.shape)
            blob.data.extend(np.asarray(array, np.float32).ravel().tolist())
    return net.SerializeToString()


def read_mean(data):
    """The mean image of a Caffe mean .binaryproto (a BlobProto 1 x 3 x H x W, BGR) as
    float32 [H, W, 3] RGB."""
    array = blob_array(BlobProto.FromString(data))
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"a mean image blob of shape {array.shape}, not 3 x H x W")
    return np.ascontiguousarray(array[::-1].transpose(1, 2, 0))


def read_prototxt(text):
    """(input side or None, {layer name: layer message}) of a deploy.prototxt (text format,
    either layer format; fields not described here are skipped)."""
    net = text_format.Parse(text, NetParameter(), allow_unknown_field=True)
    dims = list(net.input_dim) or [d for shape in net.input_shape for d in shape.dim]
    layers = list(net.layer) or list(net.layers)
    for layer in layers:
        if not dims and layer.HasField("input_param"):
            dims = [d for shape in layer.input_param.shape for d in shape.dim]
    return (int(dims[-1]) if len(dims) == 4 else None), {layer.name: layer for layer in layers}
